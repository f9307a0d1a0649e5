"""Reads behind the dashboard pages. Each function is one query (or a fixed few), never a loop over customers."""

import json
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, Subquery, Sum

from churn import policy as churn_policy
from churn.models import FollowUp, Lapse
from customers.models import Customer, Order, OrderLine, Ticket
from tiering.models import CustomerMetrics, RetierRun, RuleSet, Tier, TierChange, TierCount


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


def tier_totals() -> dict[int, dict]:
    """Customers, revenue and net margin per tier level, as CustomerMetrics holds them now: the
    rows of TierCount, which a trigger on the metrics keeps exact (tiering 0026), a few rows where
    a GROUP BY over the metrics read the whole table (24,000 pages, 0.3–0.5 s at 1M customers, on
    the first view after every run). A tier nobody holds is left out."""
    rows = TierCount.objects.filter(customers__gt=0).values("tier", "customers", "revenue", "net_margin")
    return {row["tier"]: row for row in rows}


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
    """The customer with their metrics and account manager in one query (metrics may be missing:
    a customer imported since the last re-tier is "not placed yet").

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


# --- totals of filtered lists, and customers the re-tier has not placed yet ---

COUNT_CAP = 10_000  # above this many rows a total is the planner's estimate ("about"), not a count


@dataclass(frozen=True)
class Total:
    """How many rows a filtered list holds: exact, at least (`n` is a floor), or about (an estimate)."""

    n: int
    exact: bool
    at_least: bool = False

    @property
    def prefix(self) -> str:
        return "" if self.exact else "more than " if self.at_least else "about "

    @property
    def shown(self) -> int:
        """An estimate rounded to two significant digits: "about 52,000", not "about 52,317"."""
        if self.exact or self.at_least or self.n < 100:
            return self.n
        digits = len(str(self.n)) - 2
        return round(self.n, -digits)


def count_rows(rows) -> Total:
    """The planner's estimate first (EXPLAIN: no rows read); above COUNT_CAP it is the total,
    "about N", since counting 40,000 search matches at 1M costs more than the page itself. At or
    below it, ONE bounded COUNT that stops after COUNT_CAP + 1 rows: exact, or "more than
    10,000" when the estimate was too low."""
    keys = rows.order_by().values("pk")
    estimate = _estimated_rows(keys)
    if estimate > COUNT_CAP:
        return Total(n=estimate, exact=False)
    n = keys[: COUNT_CAP + 1].count()
    if n > COUNT_CAP:
        return Total(n=COUNT_CAP, exact=False, at_least=True)
    return Total(n=n, exact=True)


def _estimated_rows(queryset) -> int:
    text = queryset.explain(format="json")
    if not text:  # a filter that can match nothing (a search with no hit: customer_id IN ()) is not even run
        return 0
    return int(json.loads(text)[0]["Plan"]["Plan Rows"])


NOT_PLACED_LIMIT = 20  # rows of customers not placed yet shown above a list


def not_placed(customers=None, *, limit: int = NOT_PLACED_LIMIT) -> tuple[list[Customer], Total]:
    """Customers with no metrics row yet (imported since the last re-tier), newest first, with
    their account manager: TWO small queries, and a bounded count only when there are more.

    A re-tier places every customer it sees, and ids only grow, so they are the customers above
    the highest id the metrics hold: a look-up at the end of two primary keys, not an anti-join of
    a million rows. (A customer whose insert committed while a run was placing a higher id is
    left out here until the next run places it; its own page says "not placed yet" meanwhile.)
    The bound is read first and passed as a number: inside the same statement the planner could
    not see it, and hashed all million metrics rows for an anti-join (~700 ms at 1M).
    """
    newest_placed = CustomerMetrics.objects.aggregate(newest=Max("customer_id"))["newest"] or 0
    rows = (
        (customers if customers is not None else Customer.objects.all())
        .filter(pk__gt=newest_placed)
        .exclude(Exists(CustomerMetrics.objects.filter(customer_id=OuterRef("pk"))))
    )
    found = list(rows.select_related("account_manager").order_by("-pk")[: limit + 1])
    if len(found) <= limit:
        return found, Total(n=len(found), exact=True)
    return found[:limit], count_rows(rows)


def runs_with_previous(run_ids) -> dict[int, dict]:
    """For each of these runs: its rule set version and cuts, and the real succeeded run before it
    (id, version, cuts) or None: ONE query, two correlated look-ups per run (runs are few)."""
    before = RetierRun.objects.filter(status=RetierRun.Status.SUCCEEDED, dry_run=False).filter(
        Q(started_at__lt=OuterRef("started_at")) | Q(started_at=OuterRef("started_at"), pk__lt=OuterRef("pk"))
    )
    before = before.order_by("-started_at", "-id")
    rows = (
        RetierRun.objects.filter(pk__in=set(run_ids))
        .annotate(
            prev_id=Subquery(before.values("pk")[:1]),
            prev_version=Subquery(before.values("ruleset__version")[:1]),
            prev_cuts=Subquery(before.values("cuts")[:1]),
        )
        .values("pk", "ruleset__version", "cuts", "prev_id", "prev_version", "prev_cuts")
    )
    return {
        row["pk"]: {
            "version": row["ruleset__version"],
            "cuts": row["cuts"],
            "previous": None
            if row["prev_id"] is None
            else {"id": row["prev_id"], "version": row["prev_version"], "cuts": row["prev_cuts"]},
        }
        for row in rows
    }
