"""Trends per month: tier sizes, share of margin, lapses and win-backs (docs/dashboard.md, Trends).

- Tier sizes and share of net margin at a month's end: from the per-run totals (RunTierTotal)
  of the month's last real run (by as-of date), a few rows per run.
- A month with no run of its own keeps the previous run's numbers (only a run moves customers).
- A month before the first run with totals whose month end a history backfill replayed takes its
  sizes and margin share from the backfill's totals at that month end (BackfillTierTotal, a few
  rows per month end), read in the same query as the run totals.
- Any other month before the first run with totals (runs from before the totals were recorded, or
  a backfill from before its totals were) takes its sizes from the tier history (TierChange,
  backfilled entries included): the net moves recorded up to that month's end, summed from the
  start, grouped per month in SQL and read only up to the last such month (an index on changed_at
  bounds it; an empty range when no month needs it). Such a month shows no margin share.
- Lapses: customers found lapsed that month; win-backs: lapsed customers seen ordering again that
  month. Both by the as-of date of the run that saw it (Lapse.detected_on, Lapse.returned_on), not
  by when that run happened to execute (detected_at, returned_at): a replay of past months, or a
  night's run that caught up after a pause, records lapses today that the data dates months back.
  The lapse has no date of its own: its rule (no order for N days, N per customer and policy)
  or the churn risk says "lapsed" as of a date, and the first run to see it dates it.

Four grouped queries whatever the number of customers, cached under the last run: at 1,000,000
customers with 1,000,000 history rows the history query is empty once every month shown has a
run or a replayed month end, and the lapse counts are an index range (docs/dashboard.md, Trends,
has the figures).
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db.models import BigIntegerField, Count, F, Value
from django.db.models.functions import TruncMonth
from django.utils import timezone

from churn.models import Lapse
from tiering.models import BackfillTierTotal, RetierRun, RunTierTotal, TierChange

MONTHS = 12
CACHE_SECONDS = 3600  # the numbers change with a run, which changes the key; the timeout bounds other writes
NOTHING = dt.datetime(1, 1, 2, tzinfo=dt.UTC)  # history read before this: none (the query stays, its count too)


@dataclass(frozen=True)
class MonthTrend:
    month: dt.date  # the first day of the month
    sizes: dict[int, int]  # customers per tier at the month's end (today for this month)
    margin_share: dict[int, float] | None  # of the positive net margin; None: no run nor replayed month end
    lapses: int
    win_backs: int
    run_id: int | None = None  # the run whose totals give the margin share
    levels: tuple[int, ...] = field(default=(), compare=False)

    @property
    def customers(self) -> int:
        return sum(self.sizes.values())


def monthly_trends(*, run: RetierRun | None, today: dt.date | None = None, months: int = MONTHS) -> list[MonthTrend]:
    """The last `months` months up to today's, oldest first; cached under the last run."""
    today = today or timezone.localdate()
    key = None
    if run is not None and run.finished_at is not None:
        key = f"dashboard:trends:{today.isoformat()}:{months}:{run.pk}:{run.finished_at.isoformat()}"
        if (cached := cache.get(key)) is not None:
            return cached
    trends = _read(today=today, months=months)
    if key:
        cache.set(key, trends, CACHE_SECONDS)
    return trends


def _read(*, today: dt.date, months: int) -> list[MonthTrend]:
    starts = month_starts(today, months)
    totals = _totals(starts[0])
    run_totals = [row for row in totals if row[0] is not None]
    replayed = [row[1:] for row in totals if row[0] is None]
    return assemble(
        today=today,
        months=months,
        flows=_flows(until=history_until(starts, run_totals, replayed)),
        run_totals=run_totals,
        replayed=replayed,
        lapses=_per_month(Lapse.objects.filter(detected_on__gte=starts[0]), "detected_on"),
        win_backs=_per_month(Lapse.objects.filter(returned_on__gte=starts[0]), "returned_on"),
    )


def _midnight(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def history_until(starts: list[dt.date], run_totals, replayed) -> dt.datetime:
    """The history the months need: up to the end of the last month before the first run with
    totals that no replayed month end covers (NOTHING when there is none)."""
    first_run = min((as_of.replace(day=1) for _, as_of, _, _, _ in run_totals), default=None)
    months_replayed = {as_of.replace(day=1) for as_of, _, _, _ in replayed}
    needed = [s for s in starts if (first_run is None or s < first_run) and s not in months_replayed]
    if not needed:
        return NOTHING
    after = needed[-1] + dt.timedelta(days=31)
    return _midnight(after.replace(day=1))


def _flows(*, until: dt.datetime) -> list[tuple[dt.date, int | None, int, int]]:
    """Net moves per month (from, to, customers) recorded before `until`."""
    rows = (
        TierChange.objects.filter(changed_at__lt=until)
        .annotate(month=TruncMonth("changed_at"))
        .values_list("month", "from_tier", "to_tier")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [(_day(month), source, target, n) for month, source, target, n in rows]


def _totals(first: dt.date) -> list[tuple[int | None, dt.date, int, int, Decimal]]:
    """(run, as_of, tier, customers, net margin) of every real run since `first`, and (None, month
    end, ...) of every replayed month end since then: a few rows per run or month end, one query."""
    runs = RunTierTotal.objects.filter(
        run__as_of__gte=first, run__dry_run=False, run__status=RetierRun.Status.SUCCEEDED
    ).annotate(a=F("run_id"), b=F("run__as_of"), c=F("tier"), d=F("customers"), e=F("net_margin"))
    replays = BackfillTierTotal.objects.filter(as_of__gte=first).annotate(
        a=Value(None, output_field=BigIntegerField()), b=F("as_of"), c=F("tier"), d=F("customers"), e=F("net_margin")
    )
    columns = ("a", "b", "c", "d", "e")  # annotations: a union lines them up in this order
    return list(runs.values_list(*columns).union(replays.values_list(*columns), all=True))


def _per_month(queryset, field_name: str) -> dict[dt.date, int]:
    rows = queryset.annotate(month=TruncMonth(field_name)).values_list("month").annotate(n=Count("id")).order_by()
    return {_day(month): n for month, n in rows}


def _day(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def month_starts(today: dt.date, months: int) -> list[dt.date]:
    """The first days of the last `months` months, oldest first, this month last."""
    year, month = today.year, today.month
    starts = []
    for _ in range(months):
        starts.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def assemble(*, today, months, flows, run_totals, lapses, win_backs, replayed=()) -> list[MonthTrend]:
    """Pure: the months from plain rows (tested on hand-computed numbers)."""
    starts = month_starts(today, months)
    last_runs = _last_run_per_month(run_totals)
    month_ends = _replayed_per_month(replayed)
    from_history = _sizes_from_history(flows, starts)
    levels = tuple(
        sorted(
            {level for _, sizes, _ in last_runs.values() for level in sizes}
            | {level for sizes, _ in month_ends.values() for level in sizes}
            | _levels_of(from_history)
        )
    )
    trends = []
    run_id, sizes, margins = None, None, None
    for start in starts:
        # A month with no run of its own keeps the last run's tiers (only a run moves customers);
        # before the first run shown, the backfill's month end in that month says, else the history.
        run_id, sizes, margins = last_runs.get(start, (run_id, sizes, margins))
        shown, shown_margins = (sizes, margins) if sizes is not None else month_ends.get(start, (None, None))
        trends.append(
            MonthTrend(
                month=start,
                sizes={level: (shown if shown is not None else from_history[start]).get(level, 0) for level in levels},
                margin_share=_shares(shown_margins) if shown_margins is not None else None,
                run_id=run_id,
                lapses=lapses.get(start, 0),
                win_backs=win_backs.get(start, 0),
                levels=levels,
            )
        )
    while trends and not trends[0].customers and not trends[0].lapses and not trends[0].win_backs:
        trends.pop(0)  # before any history: nothing to show
    return trends


def _sizes_from_history(flows, starts: list[dt.date]) -> dict[dt.date, dict[int, int]]:
    """Customers per tier at each month's end: every net move recorded up to then, summed."""
    net: dict[dt.date, dict[int, int]] = {}
    for month, source, target, n in flows:
        moves = net.setdefault(month, {})
        moves[target] = moves.get(target, 0) + n
        if source is not None:
            moves[source] = moves.get(source, 0) - n
    sizes: dict[int, int] = {}
    for month in sorted(m for m in net if m < starts[0]):  # before the window: the starting point
        for level, n in net[month].items():
            sizes[level] = sizes.get(level, 0) + n
    by_month = {}
    for start in starts:
        for level, n in net.get(start, {}).items():
            sizes[level] = sizes.get(level, 0) + n
        by_month[start] = dict(sizes)
    return by_month


def _levels_of(by_month: dict[dt.date, dict[int, int]]) -> set[int]:
    return {level for sizes in by_month.values() for level, n in sizes.items() if n}


def _last_run_per_month(run_totals) -> dict[dt.date, tuple[int, dict[int, int], dict[int, Decimal]]]:
    """Each month's last run (latest as-of, then highest id): its customers and margin per tier."""
    runs: dict[int, tuple[dt.date, dict[int, int], dict[int, Decimal]]] = {}
    for run_id, as_of, tier, customers, margin in run_totals:
        _, sizes, margins = runs.setdefault(run_id, (as_of, {}, {}))
        sizes[tier], margins[tier] = customers, margin
    last: dict[dt.date, tuple[dt.date, int]] = {}
    for run_id, (as_of, _, _) in runs.items():
        month = as_of.replace(day=1)
        if month not in last or (as_of, run_id) > last[month]:
            last[month] = (as_of, run_id)
    return {month: (run_id, runs[run_id][1], runs[run_id][2]) for month, (_, run_id) in last.items()}


def _replayed_per_month(replayed) -> dict[dt.date, tuple[dict[int, int], dict[int, Decimal]]]:
    """Each replayed month end's customers and margin per tier, by its month (a backfill replays
    one day a month, its last)."""
    by_month: dict[dt.date, tuple[dict[int, int], dict[int, Decimal]]] = {}
    for as_of, tier, customers, margin in replayed:
        sizes, margins = by_month.setdefault(as_of.replace(day=1), ({}, {}))
        sizes[tier], margins[tier] = customers, margin
    return by_month


def _shares(margins: dict[int, Decimal]) -> dict[int, float]:
    """Of the positive margin, as the pyramid counts it: a tier that loses money has 0."""
    positive = {tier: max(margin, Decimal(0)) for tier, margin in margins.items()}
    whole = sum(positive.values(), Decimal(0))
    return {tier: float(part / whole) if whole else 0.0 for tier, part in positive.items()}
