"""Trends per month: tier sizes, share of margin, lapses and win-backs (docs/dashboard.md, Trends).

- Tier sizes at each month's end come from the tier history (TierChange, backfilled entries
  included when a backfill wrote them): today's sizes (TierCount) minus the net moves recorded
  after that month. Only the history inside the window is read, grouped per month in SQL.
- Share of net margin per tier: from the per-run totals (RunTierTotal) of the month's last real
  run (by as-of date); a month with no such run shows none.
- Lapses: customers found lapsed that month (Lapse.detected_at); win-backs: lapsed customers who
  ordered again, seen that month (Lapse.returned_at).

Five grouped queries whatever the number of customers, cached under the last run.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone

from churn.models import Lapse
from tiering.models import RetierRun, RunTierTotal, TierChange, TierCount

MONTHS = 12
CACHE_SECONDS = 600


@dataclass(frozen=True)
class MonthTrend:
    month: dt.date  # the first day of the month
    sizes: dict[int, int]  # customers per tier at the month's end (today for this month)
    margin_share: dict[int, float] | None  # of the positive net margin; None: no run that month
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
    first = month_starts(today, months)[0]
    since = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    return assemble(
        today=today,
        months=months,
        current=dict(TierCount.objects.values_list("tier", "customers")),
        flows=_flows(since),
        run_totals=_run_totals(first),
        lapses=_per_month(Lapse.objects.filter(detected_at__gte=since), "detected_at"),
        win_backs=_per_month(Lapse.objects.filter(returned_at__gte=since), "returned_at"),
    )


def _flows(since: dt.datetime) -> list[tuple[dt.date, int | None, int, int]]:
    rows = (
        TierChange.objects.filter(changed_at__gte=since)
        .annotate(month=TruncMonth("changed_at"))
        .values_list("month", "from_tier", "to_tier")
        .annotate(n=Count("id"))
        .order_by()
    )
    return [(_day(month), source, target, n) for month, source, target, n in rows]


def _run_totals(first: dt.date) -> list[tuple[int, dt.date, int, Decimal]]:
    """(run, as_of, tier, net margin) of every real run since `first`: a few rows per run."""
    return list(
        RunTierTotal.objects.filter(
            run__as_of__gte=first, run__dry_run=False, run__status=RetierRun.Status.SUCCEEDED
        ).values_list("run_id", "run__as_of", "tier", "net_margin")
    )


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


def assemble(*, today, months, current, flows, run_totals, lapses, win_backs) -> list[MonthTrend]:
    """Pure: the months from plain rows (tested on hand-computed numbers)."""
    starts = month_starts(today, months)
    levels = tuple(sorted(set(current) | {t for _, s, t, _ in flows} | {s for _, s, _, _ in flows if s is not None}))
    net: dict[dt.date, dict[int, int]] = {}
    for month, source, target, n in flows:
        moves = net.setdefault(month, {})
        moves[target] = moves.get(target, 0) + n
        if source is not None:
            moves[source] = moves.get(source, 0) - n
    sizes = {level: current.get(level, 0) for level in levels}
    by_month_sizes = {}
    for start in reversed(starts):  # walk back from today: undo each later month's moves
        by_month_sizes[start] = dict(sizes)
        for level, n in net.get(start, {}).items():
            sizes[level] = sizes.get(level, 0) - n
    last_runs = _last_run_per_month(run_totals)
    trends = [
        MonthTrend(
            month=start,
            sizes=by_month_sizes[start],
            margin_share=_shares(last_runs[start][1]) if start in last_runs else None,
            run_id=last_runs[start][0] if start in last_runs else None,
            lapses=lapses.get(start, 0),
            win_backs=win_backs.get(start, 0),
            levels=levels,
        )
        for start in starts
    ]
    while trends and not trends[0].customers and not trends[0].lapses and not trends[0].win_backs:
        trends.pop(0)  # before any history: nothing to show
    return trends


def _last_run_per_month(run_totals) -> dict[dt.date, tuple[int, dict[int, Decimal]]]:
    """Each month's last run (latest as-of, then highest id) and its margin per tier."""
    runs: dict[int, tuple[dt.date, dict[int, Decimal]]] = {}
    for run_id, as_of, tier, margin in run_totals:
        runs.setdefault(run_id, (as_of, {}))[1][tier] = margin
    last: dict[dt.date, tuple[dt.date, int, dict[int, Decimal]]] = {}
    for run_id, (as_of, margins) in runs.items():
        month = as_of.replace(day=1)
        if month not in last or (as_of, run_id) > last[month][:2]:
            last[month] = (as_of, run_id, margins)
    return {month: (run_id, margins) for month, (_, run_id, margins) in last.items()}


def _shares(margins: dict[int, Decimal]) -> dict[int, float]:
    """Of the positive margin, as the pyramid counts it: a tier that loses money has 0."""
    positive = {tier: max(margin, Decimal(0)) for tier, margin in margins.items()}
    whole = sum(positive.values(), Decimal(0))
    return {tier: float(part / whole) if whole else 0.0 for tier, part in positive.items()}
