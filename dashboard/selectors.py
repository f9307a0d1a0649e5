"""Reads behind the dashboard pages. Each function is one query (or a fixed few), never a loop over customers."""

from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count, Prefetch, Q, Subquery, Sum

from churn import policy as churn_policy
from churn.models import FollowUp, Lapse
from customers.models import Customer, Order, OrderLine, Ticket
from tiering.models import CustomerMetrics, RetierRun, RuleSet, Tier, TierChange

PYRAMID_CACHE_SECONDS = 600


@dataclass(frozen=True)
class TierShare:
    level: int
    name: str
    customers: int
    revenue: Decimal
    net_margin: Decimal
    customers_share: float
    revenue_share: float
    margin_share: float


def tiers_by_level() -> dict[int, Tier]:
    """One query; the pages name and colour tiers from it."""
    return {tier.level: tier for tier in Tier.objects.all()}


def latest_run() -> RetierRun | None:
    """The newest run whatever its status: what the overview reports as "last run"."""
    return RetierRun.objects.filter(dry_run=False).select_related("ruleset").first()


def last_succeeded_run() -> RetierRun | None:
    return RetierRun.objects.filter(dry_run=False, status=RetierRun.Status.SUCCEEDED).first()


def tier_totals(*, run: RetierRun | None) -> dict[int, dict]:
    """Customers, revenue and net margin per tier level: one GROUP BY over CustomerMetrics.

    At 1M customers the scan costs ~100+ ms, and the numbers change only when a run writes new
    metrics, so the result is cached under the last run's id and end time (and a short timeout
    for data written outside a run, such as seed_demo).
    """
    key = f"dashboard:tier-totals:{run.pk}:{run.finished_at.isoformat()}" if run and run.finished_at else None
    if key and (cached := cache.get(key)) is not None:
        return cached
    rows = (
        CustomerMetrics.objects.order_by()
        .values("tier")
        .annotate(customers=Count("pk"), revenue=Sum("revenue"), net_margin=Sum("net_margin"))
    )
    totals = {row["tier"]: row for row in rows}
    if key:
        cache.set(key, totals, PYRAMID_CACHE_SECONDS)
    return totals


def tier_pyramid(*, tiers: dict[int, Tier], totals: dict[int, dict]) -> list[TierShare]:
    """Each tier's count and share of customers, revenue and margin, highest tier first (pure)."""
    levels = sorted(set(tiers) | set(totals), reverse=True)
    all_customers = sum(t["customers"] for t in totals.values())
    all_revenue = sum((t["revenue"] or 0 for t in totals.values()), Decimal(0))
    # Margin shares are of the positive margin: tier 1 may lose money, and a share of a net
    # total near zero would read as nonsense.
    all_margin = sum((max(t["net_margin"] or 0, 0) for t in totals.values()), Decimal(0))
    shares = []
    for level in levels:
        row = totals.get(level, {})
        customers, revenue, margin = (
            row.get("customers", 0),
            row.get("revenue") or Decimal(0),
            row.get("net_margin") or Decimal(0),
        )
        shares.append(
            TierShare(
                level=level,
                name=tiers[level].name if level in tiers else f"Tier {level}",
                customers=customers,
                revenue=revenue,
                net_margin=margin,
                customers_share=_share(customers, all_customers),
                revenue_share=_share(revenue, all_revenue),
                margin_share=_share(max(margin, 0), all_margin),
            )
        )
    return shares


def _share(part, whole) -> float:
    return float(part) / float(whole) if whole else 0.0


def customer_rows():
    """The tier lists' rows: metrics joined to their customer, account manager and churn risk (one query per page)."""
    return CustomerMetrics.objects.select_related("customer", "customer__account_manager", "customer__churn_risk")


@dataclass(frozen=True)
class Page:
    """One page of a tier list. No total: counting a million rows is what makes lists slow."""

    rows: list
    number: int
    size: int
    has_next: bool

    @property
    def first_row(self) -> int:
        return (self.number - 1) * self.size + 1

    @property
    def last_row(self) -> int:
        return self.first_row + len(self.rows) - 1

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def page_of_customers(rows, *, order: list[str], number: int, size: int) -> Page:
    """One page of `rows` in `order`, in ONE query: the page's keys are found on the metrics table
    alone (an index scan of (tier, metric, customer) even 1,000 rows deep), and only those rows are
    joined to their customer and manager. One row more than the page tells whether a next exists.
    """
    offset = (number - 1) * size
    keys = rows.order_by(*order).values("customer_id")[offset : offset + size + 1]
    found = list(customer_rows().filter(customer_id__in=keys).order_by(*order))
    return Page(rows=found[:size], number=number, size=size, has_next=len(found) > size)


def customer_for_page(pk: int) -> Customer:
    """The customer with their metrics and account manager in one query (metrics may be missing).

    The metrics' derived day counts (tenure, days since the last order) count to the as-of date
    of the last successful run, read in the same query.
    """
    customer = (
        Customer.objects.select_related("account_manager", "metrics", "churn_risk")
        .annotate(metrics_counted_to=Subquery(RetierRun.objects.in_force().values("as_of")[:1]))
        .get(pk=pk)
    )
    if (metrics := getattr(customer, "metrics", None)) is not None:
        metrics.counted_to = customer.metrics_counted_to  # as CustomerMetrics.objects.with_day_counts() sets it
    return customer


def tier_history(*, customer: Customer, limit: int = 50) -> list[TierChange]:
    return list(TierChange.objects.filter(customer=customer).select_related("run")[:limit])


def recent_orders(*, customer: Customer, limit: int = 10) -> list[Order]:
    """Newest orders, each with its lines and products: two queries whatever the count."""
    lines = Prefetch("lines", queryset=OrderLine.objects.select_related("product").order_by("id"))
    # Explicit order: Django drops Meta.ordering from a GROUP BY query, which showed the OLDEST ten.
    orders = (
        Order.objects.filter(customer=customer)
        .annotate(total=Sum("lines__amount"))
        .prefetch_related(lines)
        .order_by("-placed_at", "-id")
    )
    return list(orders[:limit])


def recent_tickets(*, customer: Customer, limit: int = 10) -> list[Ticket]:
    return list(Ticket.objects.filter(customer=customer)[:limit])


def ruleset_in_force() -> RuleSet | None:
    """The published rule set (one query; tiering.rules.rules_from_ruleset reads its groups in two more)."""
    return RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).first()


# --- churn follow-ups (the churn app's items, read for the overview and the customer page) ---

FOLLOW_UP_HISTORY_LIMIT = 20  # a customer page lists at most this many lapses (newest first)


def follow_up_numbers(*, levels: list[int], user, today) -> dict:
    """The active follow-up queue in numbers, in ONE aggregate query: open items, per tier,
    overdue, in the team queue (unassigned) and the user's own. Served by the partial index
    of active items (followup_active_order_idx)."""
    counts = {
        "open": Count("id"),
        "overdue": Count("id", filter=Q(due_on__lt=today)),
        "team": Count("id", filter=Q(assignee__isnull=True)),
        "mine": Count("id", filter=Q(assignee_id=user.pk)),
        **{f"tier_{level}": Count("id", filter=Q(tier=level)) for level in levels},
    }
    numbers = FollowUp.objects.filter(status__in=churn_policy.ACTIVE_STATUSES).aggregate(**counts)
    numbers["by_tier"] = [{"level": level, "n": numbers.pop(f"tier_{level}")} for level in sorted(levels, reverse=True)]
    return numbers


def customer_lapses(*, customer: Customer, limit: int = FOLLOW_UP_HISTORY_LIMIT) -> list:
    """The customer's lapses, newest first, each with its follow-up (if its tier called for one),
    the follow-up's assignee and the product blamed: ONE query (every follow-up has a lapse)."""
    return list(
        Lapse.objects.filter(customer=customer)
        .select_related("follow_up__assignee", "follow_up__cause_product")
        .order_by("-detected_at", "-id")[:limit]
    )
