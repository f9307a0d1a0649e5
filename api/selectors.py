"""Reads behind the API: one keyset page each (`WHERE key > after ORDER BY key LIMIT n`), so the
thousandth page costs what the first does. Each returns plain dicts (`.values()`), no model objects."""

import datetime as dt

from django.db.models import F, QuerySet

from churn.models import FollowUp
from promotions.models import Promotion
from promotions.selectors import targets_queryset
from tiering.models import CustomerMetrics, RetierRun, TierChange

CUSTOMER_FIELDS = {  # API name -> lookup
    "id": "customer_id",
    "external_id": "customer__external_id",
    "name": "customer__name",
    "email": "customer__email",
    "company": "customer__company",
    "account_manager": "customer__account_manager__username",
    "tier": "tier",
    "tier_since": "tier_since",
    "changed_as_of": "changed_as_of",
    "lifecycle_stage": "customer__churn_risk__stage",
    "churn_risk": "customer__churn_risk__risk",
    "churn_risk_as_of": "customer__churn_risk__as_of",
}
# The 12-month window's metrics (tiering.metrics), then the lifetime ones and the dates.
METRIC_FIELDS = [
    "revenue",
    "cost",
    "compensation",
    "net_margin",
    "orders",
    "active_months",
    "categories",
    "new_products",
    "complaints",
    "rejected_complaints",
    "compensation_share",
    "median_gap_days",
    "prior_revenue",
    "revenue_growth",
    "lifetime_revenue",
    "lifetime_net_margin",
    "lifetime_orders",
    "first_order_at",
    "last_order_at",
    "tenure_start",
]


def customers_page(
    *,
    after: int,
    limit: int,
    tier: int | None = None,
    stage: str | None = None,
    changed_since: dt.date | None = None,
    after_changed: dt.date | None = None,
) -> list[dict]:
    """A page in customer order; with `changed_since`, in (changed_as_of, customer) order instead, so
    that a sync of yesterday's changes walks an index range rather than filtering everyone. Each
    filter has an index that leads with it and ends with the customer (tiering and churn migrations)."""
    qs = CustomerMetrics.objects.all()
    if tier is not None:
        qs = qs.filter(tier=tier)
    if stage is not None:
        qs = qs.filter(customer__churn_risk__stage=stage)
    if changed_since is None:
        # Ordered by the filter's index columns (equal to customer order, the filter being one value),
        # so PostgreSQL walks that index from the cursor and stops after `limit` rows; ordered by the
        # customer alone, it often walked everyone filtering instead. A stage is narrower than a
        # tier for all but tier 3 in most shapes; both given, the stage's index leads.
        if stage is not None:
            order = ("customer__churn_risk__stage", "customer__churn_risk__customer_id")
        elif tier is not None:
            order = ("tier", "customer_id")
        else:
            order = ("customer_id",)
        qs = qs.filter(customer_id__gt=after).order_by(*order)
    else:
        qs = qs.filter(changed_as_of__gte=changed_since).order_by("changed_as_of", "customer_id")
        if after_changed is not None:  # a row comparison, so the (changed_as_of, customer) index range serves
            qs = qs.extra(
                where=[
                    '("tiering_customermetrics"."changed_as_of", "tiering_customermetrics"."customer_id") > (%s, %s)'
                ],
                params=[after_changed, after],
            )
    named = {f"c_{name}": F(lookup) for name, lookup in CUSTOMER_FIELDS.items()}
    rows = qs.values(*METRIC_FIELDS, **named)[:limit]
    return [_customer(row) for row in rows]


def _customer(row: dict) -> dict:
    customer = {name: row.pop(f"c_{name}") for name in CUSTOMER_FIELDS}
    customer["metrics"] = row
    return customer


def metrics_as_of() -> dt.date | None:
    """The as-of date of the run whose results the customers carry (the day counts count to it)."""
    return RetierRun.objects.in_force().values_list("as_of", flat=True).first()


def changes_page(*, after: int, limit: int, run: int | None = None) -> list[dict]:
    qs = TierChange.objects.filter(id__gt=after)
    if run is not None:
        qs = qs.filter(run_id=run)
    return list(
        qs.order_by("id").values(
            "id",
            "changed_at",
            "from_tier",
            "to_tier",
            "why",
            "run_id",
            "customer_id",
            run_as_of=F("run__as_of"),
            external_id=F("customer__external_id"),
        )[:limit]
    )


FOLLOW_UP_FIELDS = [
    "id",
    "kind",
    "priority",
    "tier",
    "status",
    "due_on",
    "created_at",
    "updated_at",
    "closed_at",
    "cause_category",
    "cause_text",
    "customer_id",
]


def follow_ups_page(
    *, after: int, limit: int, status: str | None = None, updated_since: dt.datetime | None = None
) -> list[dict]:
    qs: QuerySet = FollowUp.objects.filter(id__gt=after)
    if status is not None:
        qs = qs.filter(status=status)
    if updated_since is not None:
        qs = qs.filter(updated_at__gte=updated_since)
    rows = qs.order_by("id").values(
        *FOLLOW_UP_FIELDS,
        external_id=F("customer__external_id"),
        assignee_username=F("assignee__username"),
        lapse_detected_on=F("lapse__detected_on"),
        last_order_at=F("lapse__last_order_at"),
        cause_product_sku=F("cause_product__sku"),
    )[:limit]
    return [_renamed(row, assignee_username="assignee", cause_product_sku="cause_product") for row in rows]


def _renamed(row: dict, **names: str) -> dict:
    """Annotations may not take a field's name: they are renamed here."""
    for old, new in names.items():
        row[new] = row.pop(old)
    return row


def targets_page(*, promotion: Promotion, after: int, limit: int) -> list[dict]:
    """The promotion's audience exactly as its CSV export (promotions.selectors.targets_queryset:
    the same QuerySet, in the same customer order), one keyset page of it."""
    rows = (
        targets_queryset(promotion=promotion)
        .filter(customer_id__gt=after)
        .values(
            "tier",
            target_id=F("customer_id"),
            external_id=F("customer__external_id"),
            name=F("customer__name"),
            email=F("customer__email"),
            lifecycle_stage=F("customer__churn_risk__stage"),
            churn_risk=F("customer__churn_risk__risk"),
        )
    )
    return [_renamed(row, target_id="id") for row in rows[:limit]]
