"""Reads behind the API: one keyset page each (`WHERE key > after ORDER BY key LIMIT n`), so the
thousandth page costs what the first does. Each returns plain dicts (`.values()`), no model objects."""

import datetime as dt

from django.db import connection
from django.db.models import F, QuerySet, TextField
from django.db.models.functions import Cast

from churn.models import CustomerRisk, FollowUp
from promotions.models import Promotion
from promotions.selectors import targets_queryset
from tiering.models import CustomerMetrics, RetierRun, TierChange

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


# Each customer of a page as the JSON item the API returns, built by PostgreSQL: in Python,
# converting and encoding 1,000 rows of decimals and timestamps took most of a call's time. Money
# and ratios as decimal strings ("1200.50"), times as ISO 8601 with the offset (the session is UTC).
_MONEY = [name for name in METRIC_FIELDS if name not in {"orders", "active_months", "categories", "new_products",
          "complaints", "rejected_complaints", "lifetime_orders", "first_order_at", "last_order_at", "tenure_start"}]  # fmt: skip
ITEMS_SQL = f"""
    SELECT m.customer_id, m.changed_as_of, json_build_object(
        'id', m.customer_id, 'external_id', c.external_id, 'name', c.name, 'email', c.email,
        'company', c.company, 'account_manager', u.username, 'tier', m.tier, 'tier_since', m.tier_since,
        'changed_as_of', m.changed_as_of, 'lifecycle_stage', NULLIF(r.stage, ''), 'churn_risk', r.risk,
        'churn_risk_as_of', r.as_of,
        'metrics', json_build_object(
            {", ".join(f"'{name}', m.{name}{'::text' if name in _MONEY else ''}" for name in METRIC_FIELDS)},
            'days_since_last_order', %(as_of)s::date - (m.last_order_at AT TIME ZONE 'UTC')::date
        )
    )::text
      FROM tiering_customermetrics m
      JOIN customers_customer c ON c.id = m.customer_id
      LEFT JOIN auth_user u ON u.id = c.account_manager_id
      LEFT JOIN churn_customerrisk r ON r.customer_id = m.customer_id
     WHERE m.customer_id = ANY(%(ids)s)
"""


def customers_page(
    *,
    after: int,
    limit: int,
    as_of: dt.date | None,
    tier: int | None = None,
    stage: str | None = None,
    changed_since: dt.date | None = None,
    after_changed: dt.date | None = None,
) -> list[tuple[int, dt.date, str]]:
    """(customer id, changed_as_of, JSON item) for one page, in page order, in two steps: the page's
    ids from the filter's own index (an index-only walk from the cursor that stops after `limit`),
    then their items by id, the ids as one array parameter. In one statement with the cursor, the
    planner merged the customers' and risks' whole primary keys from the start (a cursor condition on
    one table does not reach the others): 3 s at 900,000 deep."""
    ids = page_ids(
        after=after, limit=limit, tier=tier, stage=stage, changed_since=changed_since, after_changed=after_changed
    )
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(ITEMS_SQL, {"ids": ids, "as_of": as_of})
        items = {row[0]: row for row in cursor.fetchall()}
    return [items[i] for i in ids if i in items]


def page_ids(
    *,
    after: int,
    limit: int,
    tier: int | None,
    stage: str | None,
    changed_since: dt.date | None,
    after_changed: dt.date | None,
) -> list[int]:
    """The ids of one page, in page order. Each filter walks an index that leads with it and ends
    with the customer (tiering and churn migrations); with a stage, the stage's index leads (the
    tier, if given, is checked per row). With `changed_since` the order is (changed_as_of, customer):
    a sync of yesterday's changes reads an index range instead of filtering everyone."""
    if changed_since is not None:
        qs = CustomerMetrics.objects.filter(changed_as_of__gte=changed_since)
        if after_changed is not None:  # a row comparison, so the (changed_as_of, customer) index range serves
            qs = qs.extra(
                where=[
                    '("tiering_customermetrics"."changed_as_of", "tiering_customermetrics"."customer_id") > (%s, %s)'
                ],
                params=[after_changed, after],
            )
        if tier is not None:
            qs = qs.filter(tier=tier)
        if stage is not None:
            qs = qs.filter(customer__churn_risk__stage=stage)
        return list(qs.order_by("changed_as_of", "customer_id").values_list("customer_id", flat=True)[:limit])
    if stage is not None:
        qs = CustomerRisk.objects.filter(stage=stage, customer_id__gt=after, customer__metrics__isnull=False)
        if tier is not None:
            qs = qs.filter(customer__metrics__tier=tier)
        return list(qs.order_by("stage", "customer_id").values_list("customer_id", flat=True)[:limit])
    qs = CustomerMetrics.objects.filter(customer_id__gt=after)
    if tier is not None:
        qs = qs.filter(tier=tier)
    return list(qs.order_by("customer_id").values_list("customer_id", flat=True)[:limit])


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
            "run_id",
            "customer_id",
            run_as_of=F("run__as_of"),
            external_id=F("customer__external_id"),
            why_json=Cast("why", TextField()),
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
