"""Lost customers leave the targets unless asked for; the columns added after the contract's ones."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from churn.models import CustomerRisk
from promotions.exports import HEADERS
from promotions.forms import PromotionForm
from promotions.models import Promotion
from tests.churn.factories import FollowUpFactory, LapseFactory
from tests.factories import UserFactory
from tiering.models import CustomerMetrics, Tier

pytestmark = pytest.mark.django_db
UTC = dt.UTC
CONTRACT = ["external_id", "name", "email", "company", "tier", "lifecycle_stage", "churn_risk"]


def export(*args) -> list[dict]:
    out = io.StringIO()
    call_command("export_targets", *args, stdout=out, stderr=io.StringIO())
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def ids(rows) -> list[str]:
    return [row["external_id"] for row in rows]


def ordered_at(customer, when: dt.datetime) -> None:
    CustomerMetrics.objects.filter(customer=customer).update(last_order_at=when)


def closed_as_lost(customer, *, last_order_at: dt.datetime):
    lapse = LapseFactory(customer=customer, last_order_at=last_order_at)
    return FollowUpFactory(lapse=lapse, status="lost")


@pytest.fixture
def lost_and_kept(target):
    """CLOSED: closed as lost minutes ago (not yet scored lost); STAGE: scored lost; BACK: closed as
    lost but bought since; KEPT: an ordinary customer."""
    last = dt.datetime(2026, 5, 1, 12, tzinfo=UTC)
    closed, stage, back, kept = (target(tier=3, external_id=x) for x in ("CLOSED", "STAGE", "BACK", "KEPT"))
    for customer in (closed, stage, back, kept):
        ordered_at(customer, last)
    closed_as_lost(closed, last_order_at=last)
    CustomerRisk.objects.create(customer=stage, risk=0.97, stage="lost", as_of=dt.date(2026, 11, 1))
    closed_as_lost(back, last_order_at=last)
    ordered_at(back, last + dt.timedelta(days=200))  # a new order: no longer lost
    return closed, stage, back, kept


def test_lost_customers_are_left_out_of_the_export_by_default(lost_and_kept):
    assert ids(export()) == ["BACK", "KEPT"]


def test_include_lost_brings_them_back(lost_and_kept):
    assert sorted(ids(export("--include-lost"))) == ["BACK", "CLOSED", "KEPT", "STAGE"]


def test_a_promotion_that_includes_lost_customers_exports_them(lost_and_kept):
    promotion = Promotion.objects.create(
        name="Win them back", starts_on=dt.date(2026, 12, 1), ends_on=dt.date(2026, 12, 31), include_lost=True
    )
    assert sorted(ids(export("--promotion", str(promotion.pk)))) == ["BACK", "CLOSED", "KEPT", "STAGE"]
    promotion.include_lost = False
    promotion.save()
    assert ids(export("--promotion", str(promotion.pk))) == ["BACK", "KEPT"]


def test_a_promotion_for_the_lost_stage_must_include_lost_customers():
    form = PromotionForm(
        {
            "name": "Lost",
            "starts_on": "2026-12-01",
            "ends_on": "2026-12-31",
            "tiers": ["2", "3"],
            "lifecycle_stage": "lost",
        }
    )
    assert not form.is_valid()
    assert "Lost customers are left out unless you include them" in str(form.errors["include_lost"])


def test_the_contract_columns_come_first_in_their_order_then_the_new_ones():
    assert list(HEADERS[: len(CONTRACT)]) == CONTRACT
    assert list(HEADERS[len(CONTRACT) :]) == ["tier_name", "account_manager", "last_order", "revenue_12m"]


def test_the_new_columns_hold_tier_name_manager_last_order_and_12_month_revenue(target):
    manager = UserFactory(username="maria", role="Account manager")
    customer = target(tier=3, external_id="A1", account_manager=manager)
    CustomerMetrics.objects.filter(customer=customer).update(
        last_order_at=dt.datetime(2026, 10, 31, 23, 30, tzinfo=UTC), revenue=Decimal("12345.60")
    )
    row = export()[0]
    assert list(row)[: len(CONTRACT)] == CONTRACT
    assert (row["tier_name"], row["account_manager"], row["last_order"], row["revenue_12m"]) == (
        "Lifetime",
        "maria",
        "2026-10-31",  # the UTC day, as the metrics count days
        "12345.60",
    )


def test_a_tier_name_that_looks_like_a_formula_is_neutralised(target):
    Tier.objects.filter(level=2).update(name="=cmd()")
    target(tier=2)
    assert export()[0]["tier_name"] == "'=cmd()"
