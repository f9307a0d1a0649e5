"""Issue 12's whale: a lapsed best customer loaded as history gets an investigation on the first run."""

import datetime as dt

import pytest

from churn.models import FollowUp, Lapse
from tests.factories import CustomerFactory
from tests.tiering.retier_helpers import at, buy, publish_rules
from tiering.models import CustomerMetrics, TierChange
from tiering.services import retier_all

pytestmark = pytest.mark.django_db

LAST_ORDER = dt.date(2025, 7, 15)
TODAY = LAST_ORDER + dt.timedelta(days=150)


@pytest.fixture
def whale():
    """Bought 35,000 a year, every month for four years, then went silent for 150 days; a small
    buyer beside them. Tier 3 takes 25,000 in the last 12 months: the whale's 7 months since the
    last year began hold 20,417, so tonight's tier is 2."""
    publish_rules(lifetime_revenue="25000")
    whale = CustomerFactory(name="whale", signed_up_on=dt.date(2021, 8, 1))
    for month in range(48):
        year, index = divmod(2021 * 12 + 7 + month, 12)
        buy(whale, at(f"{year}-{index + 1:02d}-15"), amount="2916.67", cost="1500.00")
    assert at(f"{year}-{index + 1:02d}-15").date() == LAST_ORDER
    small = CustomerFactory(name="small", signed_up_on=dt.date(2024, 1, 1))
    buy(small, at("2025-11-20"), amount="40.00")
    return whale


def test_the_whale_gets_an_investigation_on_the_first_run_over_loaded_history(whale, settings):
    settings.RETIER_BACKFILL_MONTHS = 24

    retier_all(as_of=TODAY, triggered_by="test")

    assert (
        CustomerMetrics.objects.get(customer=whale).tier == 2
    )  # the silence already cost a tier (24 month ends: 2023-12-31 on)
    lapse = Lapse.objects.get(customer=whale)
    assert lapse.tier_while_active == 3
    assert FollowUp.objects.get(customer=whale).kind == "investigate"
    held = TierChange.objects.filter(customer=whale, backfilled=True).order_by("changed_at")
    assert [(c.replayed_as_of, c.to_tier) for c in held] == [(dt.date(2023, 12, 31), 3), (dt.date(2025, 11, 30), 2)]
