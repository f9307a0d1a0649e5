"""Stage 2, apply and history: the plan's rules over the staged metrics, inside the run's transaction.

The customers whose stored metrics, tier or grace count change (~1% of them on a nightly run) go
into the temporary table `retier_changed` (columns: CHANGED_COLUMNS); the matrix, the history
(a TierChange per mover, with the why decide() would give, built in SQL) and the write of
CustomerMetrics then read that small table, and the counts per tier are read from TierCount (kept
by a trigger). A dry run only tallies.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from .. import sql
from ..catalogue import DERIVED_DAYS, METRICS
from ..cuts import key_of
from ..metrics import RUN_COLUMNS, metric_sql
from ..rules import Cond, Rules, tier_sql, why_sql
from .plan import CHANGED, Plan

FEW_CHANGED = 50_000  # customers recomputed or rewritten by a run, below which index lookups beat hashing
# What CustomerMetrics stores of a run's columns: not the day counts that grow daily (derived where
# read, from tenure_start and last_order_at). The run's as_of is stored as changed_as_of, and a row
# is rewritten only when one of the others (COMPARED) changes.
STORED = [c for c in RUN_COLUMNS if c not in DERIVED_DAYS]
COMPARED = [c for c in STORED if c != "as_of"]
# retier_changed, row by row: the customer, the run's values, the tier held, the rules' tier, the
# tier granted after grace, the new grace count, and the stored history the churn app compares.
CHANGED_COLUMNS = [
    "customer_id", *RUN_COLUMNS, "old_tier", "rule_tier", "new_tier", "new_below", "old_last_order_at",
    "old_median_gap_days",
]  # fmt: skip


def _stored_name(column: str) -> str:
    return "changed_as_of" if column == "as_of" else column


@dataclass(frozen=True)
class Applied:
    counts: dict[str, int]  # customers per tier level after the run
    matrix: dict[str, int]  # {"from->to": customers}, "new" for a first tier
    moved: int  # customers who had a tier and changed it
    rewritten: int | None  # CustomerMetrics rows written (None: a dry run, which writes none)


def apply_tiers(plan: Plan, *, recomputed: int) -> Applied:
    """Call inside the run's transaction. A dry run counts what would happen and writes nothing."""
    if plan.dry_run:
        return _tally(plan)
    with connection.cursor() as cursor:
        sql.set_local(cursor, jit="off")  # compiling the wide comparison costs more than it saves
        _pick_changed(cursor, plan, recomputed=recomputed)
        cursor.execute("SELECT COUNT(*) FROM retier_changed")
        rewritten = cursor.fetchone()[0]
        if rewritten >= FEW_CHANGED:
            cursor.execute("ANALYZE retier_changed")  # a first run puts every customer here
        cursor.execute(
            "SELECT old_tier, new_tier, COUNT(*) FROM retier_changed WHERE old_tier IS DISTINCT FROM new_tier GROUP BY 1, 2"
        )
        moves = cursor.fetchall()
    now = timezone.now()
    record_history(plan, decided="SELECT * FROM retier_changed", params=[], now=now)
    with _by_index_lookups(rewritten < FEW_CHANGED):
        _write_changed(now=now)
    with connection.cursor() as cursor:
        cursor.execute("SELECT tier, customers FROM tiering_tiercount WHERE customers <> 0")  # kept by a trigger
        held = cursor.fetchall()
    return _counted(rows=[(t, t, n) for t, n in held], moves=moves, rewritten=rewritten)


# --- who changes -------------------------------------------------------------------------------


def _staged_sql(plan: Plan) -> tuple[str, list]:
    """The run's staged metrics with the tier the rules give (`rule_tier`), aliased as r."""
    expression, params = tier_sql(plan.rules, column=lambda name: sql.column("s", name))
    staged = sql.compose(
        "(SELECT s.*, {tier} AS rule_tier FROM tiering_metricsstage s WHERE s.run_id = %s) r", tier=expression
    )
    return staged, [*params, plan.run_id]


def _grace_sql(
    rules: Rules,
    *,
    old: str = "m",
    new: str = "r",
    had_tier: str = "m.customer_id IS NOT NULL",
    stored_as_of: str = "m.changed_as_of",
) -> tuple[str, str]:
    """SQL for the tier a customer gets and their new below_runs, from the stored row `old` (tier,
    below_runs; the as-of date it last changed is `stored_as_of`) and the run's row `new`
    (rule_tier, as_of).

    Grace: a customer the rules place below their tier counts one more run below (only once per
    as_of date, so re-running a day is idempotent) and drops to the rules' tier once that count
    exceeds grace_runs. Upgrades and first placements (no stored row) take effect at once.
    """
    parts = {"old": old, "new": new, "had_tier": had_tier, "stored_as_of": stored_as_of, "grace": str(rules.grace_runs)}
    below = sql.compose(
        "CASE WHEN {old}.below_runs = 0 OR {new}.as_of > {stored_as_of} THEN {old}.below_runs + 1 ELSE {old}.below_runs END",
        **parts,
    )
    keep_tier = sql.compose(
        "({had_tier} AND {new}.rule_tier < {old}.tier AND {below} <= {grace})", below=below, **parts
    )
    new_tier = sql.compose("CASE WHEN {keep} THEN {old}.tier ELSE {new}.rule_tier END", keep=keep_tier, **parts)
    new_below = sql.compose("CASE WHEN {keep} THEN {below} ELSE 0 END", keep=keep_tier, below=below)
    return new_tier, new_below


def _columns(alias: str, columns: Sequence[str]) -> str:
    return sql.join(", ", (sql.column(alias, c) for c in columns))


# Row by row what _decided_sql and _carried_sql give (CHANGED_COLUMNS), from the stage joined to
# the stored row m.
_DECIDED = """
    SELECT {columns}, m.tier AS old_tier, r.rule_tier, {new_tier} AS new_tier, {new_below} AS new_below,
           m.last_order_at AS old_last_order_at, m.median_gap_days AS old_median_gap_days
    FROM {staged} LEFT JOIN tiering_customermetrics m ON m.customer_id = r.customer_id
"""


def _recomputed_sql(plan: Plan) -> tuple[str, list, str, str]:
    """The staged customers joined to their stored row, as CHANGED_COLUMNS rows; with the grace
    expressions (new tier, new below_runs) for the caller to compare."""
    staged, params = _staged_sql(plan)
    new_tier, new_below = _grace_sql(plan.rules)
    columns = _columns("r", ["customer_id", *RUN_COLUMNS])
    decided = sql.compose(_DECIDED, columns=columns, new_tier=new_tier, new_below=new_below, staged=staged)
    return decided, params, new_tier, new_below


def _decided_sql(plan: Plan) -> tuple[str, list]:
    """One row per customer the run tiers: fresh metrics, old tier, the tier they get, below_runs."""
    decided, params, _, _ = _recomputed_sql(plan)
    if plan.mode != CHANGED:
        return decided, params
    carried, carried_params = _carried_sql(plan)
    return sql.compose("{decided} UNION ALL {carried}", decided=decided, carried=carried), [*params, *carried_params]


def _pick_changed(cursor, plan: Plan, *, recomputed: int) -> None:
    """retier_changed: the staged customers joined to their stored row, kept where anything stored
    changes; in CHANGED mode also the customers not recomputed whose tier or grace count the rules
    or the date move, found by one scan of the metrics alone (a CREATE TABLE AS, so PostgreSQL may
    scan in parallel; an INSERT … SELECT may not)."""
    decided, params, new_tier, new_below = _recomputed_sql(plan)
    differs = [("m.tier", new_tier), ("m.below_runs", new_below)]
    differs += [(sql.column("m", _stored_name(c)), sql.column("r", c)) for c in COMPARED]
    changed = sql.join(
        " OR ",
        ["m.customer_id IS NULL", *(sql.compose("{a} IS DISTINCT FROM {b}", a=a, b=b) for a, b in differs)],
    )
    cursor.execute("DROP TABLE IF EXISTS retier_changed, retier_carried")
    with _by_index_lookups(recomputed < FEW_CHANGED):  # else it hashes all 1M metrics
        cursor.execute(
            sql.compose(
                "CREATE TEMP TABLE retier_changed ON COMMIT DROP AS {decided} WHERE {changed}",
                decided=decided,
                changed=changed,
            ),
            params,
        )
    if plan.mode == CHANGED:
        carried, carried_params = _carried_sql(plan, changed_only=True)
        cursor.execute(
            sql.compose("CREATE TEMP TABLE retier_carried ON COMMIT DROP AS {carried}", carried=carried), carried_params
        )
        cursor.execute("INSERT INTO retier_changed SELECT * FROM retier_carried")


_CARRIED = """
    SELECT {columns}, q.tier AS old_tier, q.rule_tier, {new_tier} AS new_tier, {new_below} AS new_below,
           q.last_order_at AS old_last_order_at, q.median_gap_days AS old_median_gap_days
    FROM (SELECT m.customer_id, m.tier, m.below_runs, m.changed_as_of AS stored_as_of, {as_of} AS as_of, {values},
                 {tier} AS rule_tier
          FROM tiering_customermetrics m
          WHERE NOT EXISTS (SELECT 1 FROM tiering_metricsstage s WHERE s.run_id = %s AND s.customer_id = m.customer_id)
            AND ({may_move})) q
"""


def _carried_sql(plan: Plan, *, changed_only: bool = False) -> tuple[str, list]:
    """CHANGED mode: the customers the run did not recompute, as _decided_sql's rows: their stored
    metrics (the day counts counted to this run's as_of), the tier the rules give and what grace
    makes of it. Read from the metrics alone: no join to the stage's or the metrics' other rows.
    `changed_only`: just those whose tier or grace count changes (rules or the date moved them),
    looked for among the customers _may_move_sql() names when the rules are those of the last run."""
    as_of = sql.literal(plan.as_of)  # a constant, repeated in the rules
    metric = lambda name: metric_sql(name, alias="m", as_of=as_of)  # noqa: E731
    expression, params = tier_sql(plan.rules, column=metric)
    values = [sql.compose("{value} AS {name}", value=metric(name), name=sql.name(name)) for name in METRICS]
    values += [sql.column("m", c) for c in RUN_COLUMNS if c not in METRICS and c != "as_of"]
    new_tier, new_below = _grace_sql(plan.rules, old="q", new="q", had_tier="TRUE", stored_as_of="q.stored_as_of")
    may_move = _may_move_sql(plan) if changed_only else None
    carried = sql.compose(
        _CARRIED,
        columns=_columns("q", ["customer_id", *RUN_COLUMNS]),
        new_tier=new_tier,
        new_below=new_below,
        as_of=as_of,
        values=sql.join(", ", values),
        tier=expression,
        may_move=may_move or "TRUE",
    )
    if changed_only:
        carried = sql.compose(
            "{carried} WHERE ({new_tier}) IS DISTINCT FROM q.tier OR ({new_below}) IS DISTINCT FROM q.below_runs",
            carried=carried,
            new_tier=new_tier,
            new_below=new_below,
        )
    return carried, [*params, plan.run_id]


def _may_move_sql(plan: Plan) -> str | None:
    """A predicate on metrics row m that holds for every customer whose tier or grace count can
    change since the last run when their metrics did not: one whose grace count runs, one for whom
    a condition on a day count (which grows by one a day) crosses its threshold between the two
    as-of dates, or one whose value lies between a relative threshold's old and new cut. None
    (everyone) when the rules are not those of the last run. The tier is evaluated only for the
    rows it names; they are found in one scan of the metrics (24,000 pages at 1M customers): an
    index per date or cut column cost more to keep, on every row a night rewrites (tiering 0018)."""
    if plan.last is None or not plan.same_rules_as_last:
        return None
    predicates = ["m.below_runs > 0"]
    for cond in plan.rules.conditions():
        old = _last_threshold(cond, plan.last.cuts)
        if old is None:
            return None  # the last run did not record this cut: look at everyone
        new = cond.threshold
        if METRICS[cond.metric].derived:
            if max(abs(old), abs(new)) <= 100_000:  # beyond centuries: never flips
                predicates.append(_day_count_range(cond.metric, old, new, plan.last.as_of, plan.as_of))
        elif old != new:  # a cut moved: the values between the two may change sides
            value = metric_sql(cond.metric, alias="m")
            bounds = {"lo": sql.literal(min(old, new)), "hi": sql.literal(max(old, new))}
            predicates.append(sql.compose("({value} BETWEEN {lo} AND {hi})", value=value, **bounds))
    return sql.join(" OR ", predicates)


def _last_threshold(cond: Cond, cuts: dict) -> Decimal | None:
    """The number the condition compared with in the last run (its cut as the run recorded it)."""
    if not cond.relative:
        return cond.value
    cut = cuts.get(key_of(cond))
    return None if cut is None else replace(cond, cut=cut).threshold


def _day_count_range(metric: str, old: Decimal, new: Decimal, last_as_of: dt.date, as_of: dt.date) -> str:
    """The customers for whom `count OP old` as of last_as_of and `count OP new` as of as_of can
    differ: day count = as_of - start, so the truth can only flip for starts within a day of
    last_as_of - old .. as_of - new."""
    first = min(last_as_of - dt.timedelta(days=math.ceil(old) + 1), as_of - dt.timedelta(days=math.ceil(new) + 1))
    final = max(last_as_of - dt.timedelta(days=math.floor(old)), as_of - dt.timedelta(days=math.floor(new)))
    if metric == "tenure_days":
        return sql.compose(_DAYS_FROM_START, first=sql.literal(first), final=sql.literal(final))
    # days_since_last_order counts from the last order's UTC day
    after = final + dt.timedelta(days=1)
    return sql.compose(_DAYS_FROM_LAST_ORDER, first=sql.literal(_midnight(first)), after=sql.literal(_midnight(after)))


_DAYS_FROM_START = "m.tenure_start BETWEEN {first} AND {final}"
_DAYS_FROM_LAST_ORDER = "(m.last_order_at >= {first} AND m.last_order_at < {after})"


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


@contextmanager
def _by_index_lookups(few: bool) -> Iterator[None]:
    """With few rows to look up, one index lookup each: the planner otherwise hashes the whole
    metrics table (10,000 rows of 1M: 1.0 s by hash join, 0.5 s by index lookups)."""
    if not few:
        yield
        return
    with connection.cursor() as cursor:
        sql.set_local(cursor, enable_hashjoin="off", enable_mergejoin="off")
        try:
            yield
        finally:
            sql.reset(cursor, "enable_hashjoin", "enable_mergejoin")


# --- writing -----------------------------------------------------------------------------------

_WRITE = """
    MERGE INTO tiering_customermetrics m USING retier_changed d ON m.customer_id = d.customer_id
    WHEN MATCHED THEN UPDATE SET {sets},
        tier_since = CASE WHEN m.tier = d.new_tier THEN m.tier_since ELSE %(now)s END
    WHEN NOT MATCHED THEN INSERT ({columns}) VALUES ({values})
"""


def _write_changed(*, now: dt.datetime) -> None:
    """The changed customers' rows into the metrics (retier_changed holds only those)."""
    sets = [sql.compose("{name} = {value}", name=sql.name(_stored_name(c)), value=sql.column("d", c)) for c in STORED]
    columns = ["customer_id", *map(_stored_name, STORED), "tier", "tier_since", "below_runs"]
    values = ["d.customer_id", *(sql.column("d", c) for c in STORED), "d.new_tier", "%(now)s", "d.new_below"]
    statement = sql.compose(
        _WRITE,
        sets=sql.join(", ", [*sets, "tier = d.new_tier", "below_runs = d.new_below"]),
        columns=sql.join(", ", map(sql.name, columns)),
        values=sql.join(", ", values),
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, {"now": now})


_HISTORY = """
    INSERT INTO tiering_tierchange (customer_id, run_id, from_tier, to_tier, changed_at, why)
    SELECT d.customer_id, %s, d.old_tier, d.new_tier, %s, {why} FROM ({decided}) d
    WHERE d.old_tier IS NULL OR d.old_tier <> d.new_tier
"""


def record_history(plan: Plan, *, decided: str, params: list, now: dt.datetime) -> None:
    """A TierChange per customer whose tier changes, with the why decide() would give, in one
    INSERT … SELECT with the why built in SQL (why_sql; ~240 µs of Python per mover before, 4-5
    minutes for a first run at a million customers)."""
    why, why_params = why_sql(plan.rules, column=lambda name: sql.column("d", name), tier="d.rule_tier")
    with connection.cursor() as cursor:
        cursor.execute(sql.compose(_HISTORY, why=why, decided=decided), [plan.run_id, now, *why_params, *params])


# --- counting ----------------------------------------------------------------------------------


def _tally(plan: Plan) -> Applied:
    """A dry run: customers per tier after the run, the from->to matrix and movers, written nowhere."""
    decided, params = _decided_sql(plan)
    with connection.cursor() as cursor:
        cursor.execute(
            sql.compose(
                "SELECT d.old_tier, d.new_tier, COUNT(*) FROM ({decided}) d GROUP BY d.old_tier, d.new_tier",
                decided=decided,
            ),
            params,
        )
        rows = cursor.fetchall()
    return _counted(rows=rows, moves=[(old, new, n) for old, new, n in rows if old != new], rewritten=None)


def _counted(*, rows, moves, rewritten: int | None) -> Applied:
    """Counts per tier from (old, new, customers) rows; the matrix and movers from the moves."""
    counts: dict[str, int] = {}
    matrix: dict[str, int] = {}
    moved = 0
    for _, new, n in rows:
        counts[str(new)] = counts.get(str(new), 0) + n
    for old, new, n in moves:
        matrix[f"{old if old is not None else 'new'}->{new}"] = n
        moved += n if old is not None else 0
    return Applied(dict(sorted(counts.items())), dict(sorted(matrix.items())), moved, rewritten)
