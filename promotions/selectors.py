"""Who a promotion targets: ONE QuerySet used by the page, the live count, the web export and the
command, so they cannot disagree.

Every "bought / never bought / open ticket" filter is a correlated EXISTS on the customer, which
PostgreSQL answers from the covering indexes on order lines (customer, placed_at INCLUDE product)
and tickets (customer, opened_at INCLUDE kind, outcome) without joining or counting rows.
"""

import datetime as dt

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from customers.models import OrderLine, Ticket
from tiering.models import CustomerMetrics

from .filters import TargetFilters
from .followups import exclude_lost, open_follow_ups
from .models import ExportLog, Promotion

EXPORT_LOG_ALL = "promotions.view_exportlog"  # admins: every export; anyone else: their own only


class FollowUpFilterUnavailable(Exception):
    """Asked to exclude open follow-ups while the churn app is not installed."""


def targets_queryset(
    *, promotion: Promotion | None = None, filters: TargetFilters | None = None, now: dt.datetime | None = None
) -> QuerySet[CustomerMetrics]:
    """Customers (as their metrics rows, customer joined) a promotion targets, in customer order."""
    if filters is None:
        filters = promotion.target_filters() if promotion is not None else TargetFilters()
    now = now or timezone.now()
    qs = CustomerMetrics.objects.filter(tier__in=filters.tiers).select_related("customer")
    qs = _by_recency(qs, filters, now)
    qs = _by_purchases(qs, filters)
    if filters.account_manager_id is not None:
        qs = qs.filter(customer__account_manager_id=filters.account_manager_id)
    if filters.exclude_open_complaint:
        qs = qs.exclude(Exists(_open_complaints()))
    if filters.exclude_open_follow_up:
        qs = qs.exclude(Exists(_open_follow_ups()))
    if filters.lifecycle_stage:
        qs = qs.filter(customer__churn_risk__stage=filters.lifecycle_stage)
    if not filters.include_lost:
        qs = exclude_lost(qs)
    return qs.order_by("customer_id")


def count_by_tier(targets: QuerySet[CustomerMetrics], *, tiers) -> list[dict]:
    """The targets counted per chosen tier in ONE grouped query, highest tier first; a chosen
    tier with nobody in it is there with 0, so "tiers 2 and 3" with no tier 3 shows."""
    counts = dict(targets.order_by().values_list("tier").annotate(n=Count("pk")))
    return [{"level": level, "n": counts.get(level, 0)} for level in sorted(tiers, reverse=True)]


def _by_recency(qs, filters: TargetFilters, now: dt.datetime):
    if filters.active_within_days is not None:
        qs = qs.filter(last_order_at__gte=now - dt.timedelta(days=filters.active_within_days))
    if filters.lapsed_over_days is not None:
        qs = qs.filter(last_order_at__lt=now - dt.timedelta(days=filters.lapsed_over_days))
    return qs


def _by_purchases(qs, filters: TargetFilters):
    lines = OrderLine.objects.filter(customer_id=OuterRef("customer_id"))
    if filters.bought_category:
        qs = qs.filter(Exists(lines.filter(product__category=filters.bought_category)))
    if filters.not_bought_category:
        qs = qs.exclude(Exists(lines.filter(product__category=filters.not_bought_category)))
    if filters.bought_product_id is not None:
        qs = qs.filter(Exists(lines.filter(product_id=filters.bought_product_id)))
    if filters.not_bought_product_id is not None:
        qs = qs.exclude(Exists(lines.filter(product_id=filters.not_bought_product_id)))
    return qs


def _open_complaints():
    return Ticket.objects.filter(
        customer_id=OuterRef("customer_id"), kind=Ticket.Kind.COMPLAINT, outcome=Ticket.Outcome.PENDING
    )


def _open_follow_ups():
    follow_ups = open_follow_ups()
    if follow_ups is None:
        raise FollowUpFilterUnavailable("Excluding open follow-ups needs the churn app, which is not installed.")
    return follow_ups.filter(customer_id=OuterRef("customer_id"))


def export_log_for(user, *, limit: int = 200) -> list[ExportLog]:
    """The export log as `user` may read it: every entry for an admin, else only their own."""
    entries = ExportLog.objects.select_related("promotion")
    if not user.has_perm(EXPORT_LOG_ALL):
        entries = entries.filter(user=user)
    return list(entries[:limit])


def recent_promotions(*, limit: int = 10) -> list[Promotion]:
    return list(Promotion.objects.select_related("created_by")[:limit])
