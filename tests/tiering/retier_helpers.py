"""Helpers shared by the re-tier tests: hand-made orders and tickets, and staged metrics to read."""

import datetime as dt
from decimal import Decimal

from tests.factories import OrderFactory, OrderLineFactory, ProductFactory, TicketFactory
from tiering.metrics import compute_metrics_range
from tiering.models import MetricsStage, RetierRun

UTC = dt.UTC


def at(day: str, time: str = "12:00:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=UTC)


def buy(customer, when: dt.datetime, *, amount="100.00", cost="60.00", product=None, order=None):
    """One order line (a new order unless `order` is given)."""
    order = order or OrderFactory(customer=customer, placed_at=when)
    return OrderLineFactory(
        order=order, product=product or ProductFactory(), amount=Decimal(amount),
        cost=None if cost is None else Decimal(cost),
    )  # fmt: skip


def complain(customer, when: dt.datetime, *, outcome="rejected", compensation="0", kind="complaint"):
    return TicketFactory(
        customer=customer, opened_at=when, kind=kind, outcome=outcome, compensation=Decimal(compensation)
    )


def metrics_as_of(as_of: dt.date, *, ranges=((1, 10**12),)) -> dict[int, MetricsStage]:
    """Compute every customer's metrics into the stage and read them back, by customer id."""
    run = RetierRun.objects.create(as_of=as_of, dry_run=True)
    for lo, hi in ranges:
        compute_metrics_range(run_id=run.pk, as_of=as_of, lo=lo, hi=hi)
    rows = {row.customer_id: row for row in MetricsStage.objects.filter(run_id=run.pk)}
    MetricsStage.objects.filter(run_id=run.pk).delete()
    return rows


def publish_rules(*, grace_runs=0, lifetime_revenue="1000", loyal_orders="2"):
    """Publish a small rule set (retiring the one in force): tier 3 spends >= lifetime_revenue,
    tier 2 placed >= loyal_orders orders in the window."""
    from django.db.models import Max

    from tiering.models import Condition, RuleGroup, RuleSet, Tier

    RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).update(status=RuleSet.Status.RETIRED)
    version = (RuleSet.objects.aggregate(v=Max("version"))["v"] or 0) + 1
    ruleset = RuleSet.objects.create(version=version, status=RuleSet.Status.PUBLISHED, grace_runs=grace_runs)
    for level, metric, value in [(3, "revenue", lifetime_revenue), (2, "orders", loyal_orders)]:
        tier, _ = Tier.objects.get_or_create(
            level=level, defaults={"name": f"Tier {level}"}
        )  # flushed by transactional tests
        group = RuleGroup.objects.create(ruleset=ruleset, tier=tier, match="all")
        Condition.objects.create(group=group, metric=metric, op="gte", value=Decimal(value))
    return ruleset


def tiers() -> dict[int, int]:
    from tiering.models import CustomerMetrics

    return dict(CustomerMetrics.objects.values_list("customer_id", "tier"))


def other_connection():
    """A second PostgreSQL session on the test database (another worker, another process)."""
    import psycopg
    from django.db import connection

    s = connection.settings_dict
    return psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], dbname=s["NAME"], autocommit=True)
