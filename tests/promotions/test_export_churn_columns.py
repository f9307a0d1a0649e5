"""The export's churn columns: after the contract's columns, the lifecycle stage then the risk."""

import datetime as dt

import pytest

from churn.models import CustomerRisk
from promotions.exports import csv_chunks
from tiering.models import CustomerMetrics

pytestmark = pytest.mark.django_db


def export_rows() -> list[list[str]]:
    targets = CustomerMetrics.objects.order_by("customer__external_id")
    return [line.split(",") for line in b"".join(csv_chunks(targets)).decode().splitlines()]


def test_each_customer_has_their_lifecycle_stage_and_churn_risk_after_the_tier(target):
    scored = target(tier=3, external_id="A1", name="Ann", email="a@example.com")
    target(tier=2, external_id="B2", name="Bob", email="b@example.com")
    CustomerRisk.objects.create(customer=scored, risk=0.8125, stage="at_risk", as_of=dt.date(2026, 1, 1))

    header, ann, bob = export_rows()

    assert header[:7] == ["external_id", "name", "email", "company", "tier", "lifecycle_stage", "churn_risk"]
    assert ann[:7] == ["A1", "Ann", "a@example.com", "", "3", "at_risk", "0.8125"]
    assert bob[:7] == ["B2", "Bob", "b@example.com", "", "2", "", ""]  # not scored yet: empty, not zero


def test_a_second_purchase_campaign_targets_only_customers_in_the_new_stage(target):
    from promotions.filters import TargetFilters, describe
    from promotions.selectors import targets_queryset

    newcomer, regular = target(tier=2, external_id="N1"), target(tier=2, external_id="R1")
    CustomerRisk.objects.create(customer=newcomer, risk=0.6, stage="new", as_of=dt.date(2026, 1, 1))
    CustomerRisk.objects.create(customer=regular, risk=0.1, stage="active", as_of=dt.date(2026, 1, 1))
    filters = TargetFilters(lifecycle_stage="new")

    chosen = targets_queryset(filters=filters).values_list("customer__external_id", flat=True)

    assert list(chosen) == ["N1"]
    assert describe(filters.as_json()) == "tiers 2, 3 · lifecycle stage new"
