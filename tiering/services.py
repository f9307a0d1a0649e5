"""The re-tier: one function that the nightly Celery task, the admin's "Run now" and
`manage.py retier` all call.

A run has two phases:
1. metrics per range of customer ids into tiering_metricsstage (each range its own short
   transaction, so ranges could be computed by several workers; nothing users read changes);
2. one atomic apply: the published rules' SQL expression over the staged metrics, downgrade grace,
   a TierChange per customer whose tier changes (with the why), CustomerMetrics rewritten only
   where something changed, the run record, and the `retier_applied` signal, all in one
   transaction. A run that dies anywhere leaves every customer on their previous tier.

Single-flight: a PostgreSQL session advisory lock (a running-row guard on SQLite). A refused run is
recorded with status "skipped". A run left "running" whose lock nobody holds any more (or that stopped
beating) was killed with its worker and is marked interrupted (tiering.runs).

Idempotent: a second run with the same as_of and rules moves nobody and writes no TierChange
(and rewrites no CustomerMetrics row: the upsert skips rows whose values are unchanged).

Dry runs compute everything (counts, matrix) and write only their own RetierRun record, so the
Runs page shows what the dry run found; no customer's metrics or tier change.
"""

import datetime as dt
import json
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from decimal import Decimal

from celery import current_app
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from customers import changes

from . import runs
from .metrics import DERIVED_DAYS, METRICS, compute_metrics_of, compute_metrics_range, customer_ranges, metric_sql
from .models import RetierRun, RuleSet, TierChange
from .rules import decide, rules_from_ruleset, tier_sql, why_sql
from .signals import retier_applied

log = logging.getLogger(__name__)

# pg_try_advisory_lock key of the re-tier: ASCII "TIER".
RETIER_LOCK_KEY = 0x54494552
MOVER_BATCH = 2000


class RetierError(Exception):
    """A run that cannot start (no published rule set); the message says what to do."""


def retier_all(
    *, as_of: dt.date, ruleset: RuleSet | None = None, dry_run: bool = False, triggered_by: str = ""
) -> RetierRun:
    """Re-tier every customer as of `as_of` with `ruleset` (default: the published one).

    Returns the run record: succeeded, or skipped when another run holds the lock. A failure is
    recorded on the run (status failed, error text) and re-raised.
    """
    ruleset = ruleset or RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).first()
    record = {"as_of": as_of, "ruleset": ruleset, "dry_run": dry_run, "triggered_by": triggered_by[:100]}
    with single_flight() as acquired:
        if not acquired:
            run = RetierRun.objects.create(**record)
            return _finish(
                run, status=RetierRun.Status.SKIPPED, error="Another re-tier run was going; this one did nothing."
            )
        run = RetierRun.objects.create(**record)  # after the lock, so no one takes it for dead
        try:
            with runs.heartbeat(run):  # tiering.runs: a run whose process dies is seen at once
                _check_ruleset(ruleset, dry_run=dry_run)
                _stage_metrics(run)
                _apply(run=run, rules=rules_from_ruleset(ruleset))
        except BaseException as exc:
            _record_failure(run, exc)
            raise
    runs.note_if_unchanged(run)  # tiering.runs: the same night run twice says it changed nothing
    if not dry_run:
        _refresh_planner_statistics(run)
    return run


def _check_ruleset(ruleset: RuleSet | None, *, dry_run: bool) -> None:
    if ruleset is None:
        raise RetierError("No published rule set: publish one in the admin before re-tiering.")
    in_force = RuleSet.objects.filter(pk=ruleset.pk, status=RuleSet.Status.PUBLISHED).exists()  # as stored now
    if not dry_run and not in_force:
        raise RetierError(
            f"Rule set v{ruleset.version} is not the one in force: try it with a dry run, or publish it first."
        )


# --- single flight ------------------------------------------------------------------------------


@contextmanager
def single_flight():
    """Yield True when this process may run (and then holds the re-tier lock until the block ends).

    Taking the lock also marks any run still recorded as running as interrupted: its process is gone.
    """
    if connection.vendor != "postgresql":
        yield _sqlite_guard()
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [RETIER_LOCK_KEY])
        acquired = cursor.fetchone()[0]
    try:
        if acquired:
            mark_dead_runs_failed()
        yield acquired
    finally:
        if acquired and connection.is_usable():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [RETIER_LOCK_KEY])


def _sqlite_guard() -> bool:
    """SQLite (the single-process demo): refuse while another run is recorded as running.

    There is no lock to ask, so a run older than the hard time limit counts as dead.
    """
    runs.reap_interrupted()  # tiering.runs: older than the hard time limit
    return not RetierRun.objects.filter(status=RetierRun.Status.RUNNING).exists()


def mark_dead_runs_failed() -> int:
    """Call only while holding the lock: any run still marked running lost its process."""
    return len(runs.mark_interrupted(RetierRun.objects.filter(status=RetierRun.Status.RUNNING)))  # tiering.runs


def reap_dead_runs() -> None:
    """For the Runs page: runs whose process is gone are marked interrupted (tiering.runs)."""
    runs.reap_interrupted()


# --- phase 1: metrics per range --------------------------------------------------------------

# Which customers' metrics a run computes (run.progress["mode"]).
ALL = "all"
CHANGED = "changed"


def _stage_metrics(run: RetierRun) -> None:
    """The metrics the run needs into the stage: of every customer, or only of those whose metrics
    can differ from the stored ones (CHANGED; the others keep theirs, see _metrics_mode)."""
    _clear_stage()
    if changes.tracks_changes() and not run.dry_run:
        with connection.cursor() as cursor:
            changes.take(cursor, run_id=run.pk)  # before any metric is read: later marks stay for the next run
    mode = _metrics_mode(run)
    run.progress = {"mode": mode}
    if mode == CHANGED:
        _set_progress(run, step="computing metrics of changed customers", done=0, total=1)
        recomputed = compute_metrics_of(run_id=run.pk, as_of=run.as_of, targets=_changed_customers_sql(run))
        total = 1
    else:
        recomputed, total = _stage_all_ranges(run)
    run.progress["recomputed"] = recomputed
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # the apply step's plans need tonight's counts: with last night's, the planner took
            # the stage for one row and compared each carried customer with all of it (1.1 s)
            cursor.execute("ANALYZE tiering_metricsstage")
    _set_progress(run, step="applying tiers", done=total, total=total)


def _metrics_mode(run: RetierRun) -> str:
    """CHANGED when the stored metrics are those of the last real run and every change since is
    known: the database marks changed source data (customers.changes), and each stored row says
    when it changes with the date alone (next_change_on). Else ALL: on SQLite, on a first run, a
    run dated before the last one, after an "everyone" mark (a catalogue edit, a bulk load), or
    with RETIER_INCREMENTAL off."""
    if not settings.RETIER_INCREMENTAL or not changes.tracks_changes():
        return ALL
    last = _last_real_run(run)
    if last is None or run.as_of < last.as_of:
        return ALL
    with connection.cursor() as cursor:
        if changes.everyone_marked(cursor, run_id=None if run.dry_run else run.pk):
            return ALL
    return CHANGED


def _changed_customers_sql(run: RetierRun) -> str:
    """The customers a CHANGED run recomputes: marked since (the marks this run took; a dry run,
    which takes none, reads them all) or due to change by this as_of. New customers are marked,
    and so are customers whose metrics row was deleted (a trigger on the metrics)."""
    return f"""
        {changes.marked_sql(taken=not run.dry_run)}
        UNION SELECT customer_id FROM tiering_customermetrics WHERE next_change_on <= %(as_of)s
    """


def _stage_all_ranges(run: RetierRun) -> tuple[int, int]:
    """Metrics of every range into the stage: on Celery workers when RETIER_ON_WORKERS is set,
    else in this process (on PostgreSQL RETIER_PARALLEL ranges at a time, each on its own
    connection, so the database uses that many cores). Returns (customers, ranges)."""
    on_workers = _can_run_ranges_on_workers()
    workers = settings.RETIER_PARALLEL if on_workers or _can_run_ranges_in_threads() else 1
    ranges = customer_ranges(size=settings.RETIER_RANGE_SIZE, at_least=workers)
    _set_progress(run, step="computing metrics", done=0, total=len(ranges))
    if on_workers:
        _stage_on_workers(run, ranges)
    elif workers > 1:
        _stage_in_threads(run, ranges, workers)
    else:
        for done, (lo, hi) in enumerate(ranges, start=1):
            compute_metrics_range(run_id=run.pk, as_of=run.as_of, lo=lo, hi=hi)
            _set_progress(run, step="computing metrics", done=done, total=len(ranges))
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM tiering_metricsstage WHERE run_id = %s", [run.pk])
        return cursor.fetchone()[0], len(ranges)


def _stage_in_threads(run: RetierRun, ranges: list[tuple[int, int]], workers: int) -> None:
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(_compute_range_in_thread, run, lo, hi) for lo, hi in ranges]
        for done, future in enumerate(as_completed(futures), start=1):
            future.result()
            _set_progress(run, step="computing metrics", done=done, total=len(ranges))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on a failure, start no further range


def _can_run_ranges_on_workers() -> bool:
    """Workers see only committed rows and need a broker: not eager, not inside a transaction."""
    return settings.RETIER_ON_WORKERS and not settings.CELERY_TASK_ALWAYS_EAGER and not connection.in_atomic_block


def _stage_on_workers(run: RetierRun, ranges: list[tuple[int, int]]) -> None:
    """Hand each range to a Celery worker (tiering.tasks.compute_range_task) and wait for all.

    This process keeps the single-flight lock and applies the result atomically afterwards; a
    range that fails fails the run. Needs a worker pool with a free slot besides the one running
    this (several workers, or --concurrency of 2 or more).
    """
    app = current_app._get_current_object()
    results = [
        app.send_task(
            "tiering.tasks.compute_range_task",
            kwargs={"run_id": run.pk, "as_of": run.as_of.isoformat(), "lo": lo, "hi": hi},
        )
        for lo, hi in ranges
    ]
    deadline = time.monotonic() + settings.RETIER_SOFT_TIME_LIMIT
    pending = list(results)
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} of {len(results)} metric ranges not computed in time by the workers")
        for result in [r for r in pending if r.ready()]:
            result.get(disable_sync_subtasks=False, propagate=True)  # re-raises a range's failure here
            pending.remove(result)
        _set_progress(run, step="computing metrics on workers", done=len(results) - len(pending), total=len(results))
        if pending:
            time.sleep(0.5)


def _can_run_ranges_in_threads() -> bool:
    """Other connections see only committed rows: not inside a transaction (e.g. a test's)."""
    return settings.RETIER_PARALLEL > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block


def _compute_range_in_thread(run: RetierRun, lo: int, hi: int) -> int:
    try:
        return compute_metrics_range(run_id=run.pk, as_of=run.as_of, lo=lo, hi=hi)
    finally:
        connection.close()  # this thread's own connection


def _clear_stage() -> None:
    """Empty the stage (rows of a dead run, or of this one once applied). Safe: single-flight."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE tiering_metricsstage")
        else:
            cursor.execute("DELETE FROM tiering_metricsstage")


def _set_progress(run: RetierRun, *, step: str, done: int, total: int) -> None:
    run.progress = {**(run.progress or {}), "step": step, "done": done, "total": total}
    RetierRun.objects.filter(pk=run.pk).update(progress=run.progress)


# --- phase 2: the atomic apply -----------------------------------------------------------------

FEW_CHANGED = 50_000  # customers rewritten by a run, below which the write and the VACUUM take the cheap road
FULL_VACUUM_SHARE = 0.05  # rewritten rows, as a share of customers, after which a VACUUM also cleans the indexes
_METRIC_COLUMNS = [
    "as_of",
    *METRICS,
    "first_order_at",
    "last_order_at",
    "tenure_start",
    "next_change_on",
]  # of the stage
# What CustomerMetrics stores: not the day counts that grow daily (derived where read, from
# tenure_start and last_order_at). A row is rewritten only when one of these, other than as_of,
# changes, so as_of is the date of the last run that changed the row.
_STORED_COLUMNS = [c for c in _METRIC_COLUMNS if c not in DERIVED_DAYS]
_COMPARED_COLUMNS = [c for c in _STORED_COLUMNS if c != "as_of"]


def _staged_sql(*, run: RetierRun, rules) -> tuple[str, list]:
    """The run's staged metrics with the tier the rules give (`rule_tier`), aliased as r."""
    expression, params = tier_sql(rules, column=lambda name: f"s.{name}")
    sql = f"(SELECT s.*, {expression} AS rule_tier FROM tiering_metricsstage s WHERE s.run_id = %s) r"
    return sql, [*params, run.pk]


def _grace_sql(
    rules, *, old: str = "m", new: str = "r", had_tier: str = "m.customer_id IS NOT NULL", stored_as_of: str = "m.as_of"
) -> tuple[str, str]:
    """SQL for the tier a customer gets and their new below_runs, from the stored row `old` (tier,
    below_runs; its as_of is `stored_as_of`) and the run's row `new` (rule_tier, as_of).

    Grace: a customer the rules place below their tier counts one more run below (only once per
    as_of date, so re-running a day is idempotent) and drops to the rules' tier once that count
    exceeds grace_runs. Upgrades and first placements (no stored row) take effect at once.
    """
    grace = int(getattr(rules, "grace_runs", 0) or 0)  # an int, safe to inline
    below = f"CASE WHEN {old}.below_runs = 0 OR {new}.as_of > {stored_as_of} THEN {old}.below_runs + 1 ELSE {old}.below_runs END"
    keep_tier = f"({had_tier} AND {new}.rule_tier < {old}.tier AND {below} <= {grace})"
    new_tier = f"CASE WHEN {keep_tier} THEN {old}.tier ELSE {new}.rule_tier END"
    new_below = f"CASE WHEN {keep_tier} THEN {below} ELSE 0 END"
    return new_tier, new_below


def _decided_sql(*, run: RetierRun, rules) -> tuple[str, list]:
    """One row per staged customer: their fresh metrics, old tier, the tier they get, below_runs."""
    staged, params = _staged_sql(run=run, rules=rules)
    new_tier, new_below = _grace_sql(rules)
    columns = ", ".join(f"r.{c}" for c in ["customer_id", *_METRIC_COLUMNS])
    sql = f"""
        SELECT {columns}, m.tier AS old_tier, r.rule_tier, {new_tier} AS new_tier, {new_below} AS new_below, {_OLD_HISTORY}
        FROM {staged} LEFT JOIN tiering_customermetrics m ON m.customer_id = r.customer_id
    """
    if (run.progress or {}).get("mode") == CHANGED:
        carried, carried_params = _carried_sql(run=run, rules=rules)
        return f"{sql} UNION ALL {carried}", [*params, *carried_params]
    return sql, params


def _carried_sql(*, run: RetierRun, rules, changed_only: bool = False) -> tuple[str, list]:
    """CHANGED mode: the customers the run did not recompute, as _decided_sql's rows: their stored
    metrics (the day counts counted to this run's as_of), the tier the rules give and what grace
    makes of it. Read from the metrics alone: no join to the stage's or the metrics' other rows.
    `changed_only`: just those whose tier or grace count changes (rules or the date moved them),
    looked for among the customers _may_move_sql() names when the rules are those of the last run."""
    as_of = f"DATE '{run.as_of.isoformat()}'"  # a date's ISO text: safe to inline, repeated in the rules
    metric = lambda name: metric_sql(name, alias="m", as_of=as_of)  # noqa: E731
    expression, params = tier_sql(rules, column=metric)
    values = [f"{metric(name)} AS {name}" for name in METRICS]
    values += [f"m.{c}" for c in _METRIC_COLUMNS if c not in METRICS and c != "as_of"]
    new_tier, new_below = _grace_sql(rules, old="q", new="q", had_tier="TRUE", stored_as_of="q.stored_as_of")
    names = ", ".join(f"q.{c}" for c in ["customer_id", *_METRIC_COLUMNS])
    may_move = _may_move_sql(run=run, rules=rules) if changed_only else None
    sql = f"""
        SELECT {names}, q.tier AS old_tier, q.rule_tier, {new_tier} AS new_tier, {new_below} AS new_below,
               q.last_order_at AS old_last_order_at, q.median_gap_days AS old_median_gap_days
        FROM (SELECT m.customer_id, m.tier, m.below_runs, m.as_of AS stored_as_of, {as_of} AS as_of, {", ".join(values)},
                     {expression} AS rule_tier
              FROM tiering_customermetrics m
              WHERE NOT EXISTS (SELECT 1 FROM tiering_metricsstage s WHERE s.run_id = %s AND s.customer_id = m.customer_id)
                AND ({may_move or "TRUE"})) q
    """
    if changed_only:
        sql += f" WHERE ({new_tier}) IS DISTINCT FROM q.tier OR ({new_below}) IS DISTINCT FROM q.below_runs"
    return sql, [*params, run.pk]


def _may_move_sql(*, run: RetierRun, rules) -> str | None:
    """A predicate on metrics row m that holds for every customer whose tier or grace count can
    change since the last run when their metrics did not: one whose grace count runs, or for whom
    a condition on a day count (which grows by one a day) crosses its threshold between the two
    as-of dates. None (everyone) when the rules are not those of the last run. Each part is an
    index range, so a quiet night reads a few thousand rows instead of scanning all of them."""
    last = _last_real_run(run)
    if last is None or last.ruleset_id != run.ruleset_id or last.as_of > run.as_of:
        return None
    predicates = ["m.below_runs > 0"]
    for group in rules.groups:
        for cond in group.conditions:
            if cond.metric not in DERIVED_DAYS or abs(cond.value) > 100_000:  # a threshold beyond centuries never flips
                continue
            # day count = as_of - start: the truth of `count OP v` can only flip when the count
            # passes floor(v) .. ceil(v) + 1, i.e. for starts in this range of days
            first = last.as_of - dt.timedelta(days=math.ceil(cond.value) + 1)
            final = run.as_of - dt.timedelta(days=math.floor(cond.value))
            if cond.metric == "tenure_days":
                predicates.append(f"m.tenure_start BETWEEN DATE '{first}' AND DATE '{final}'")
            else:  # days_since_last_order counts from the last order's UTC day
                after = final + dt.timedelta(days=1)
                predicates.append(
                    f"(m.last_order_at >= TIMESTAMPTZ '{first} 00:00+00' AND m.last_order_at < TIMESTAMPTZ '{after} 00:00+00')"
                )
    return " OR ".join(predicates)


def _last_real_run(run: RetierRun) -> RetierRun | None:
    """The run whose results the metrics hold (metrics.CURRENT_AS_OF_SQL), other than `run`."""
    runs = RetierRun.objects.filter(status=RetierRun.Status.SUCCEEDED, dry_run=False).exclude(pk=run.pk)
    return runs.order_by("-started_at", "-id").first()


def _apply(*, run: RetierRun, rules) -> None:
    decided, params = _decided_sql(run=run, rules=rules)
    with transaction.atomic():
        if run.dry_run:
            counts, matrix, moved = _tally(decided, params)
        elif connection.vendor == "postgresql":
            counts, matrix, moved = _apply_changed(run=run, rules=rules, now=timezone.now())
            with connection.cursor() as cursor:
                changes.release(cursor, run_id=run.pk)  # the marks this run took, now accounted for
        else:
            counts, matrix, moved = _tally(decided, params)
            now = timezone.now()
            _record_changes(run=run, rules=rules, decided=decided, params=params, now=now)
            _write_metrics(run=run, rules=rules, decided=decided, params=params, now=now)
        if not run.dry_run:
            retier_applied.send(sender=RetierRun, run=run, as_of=run.as_of, **_rewritten_sql())
        _clear_stage()
        run.counts, run.matrix, run.moved = counts, matrix, moved
        _finish(run, status=RetierRun.Status.SUCCEEDED)


# What a stored row held before the run, for receivers that follow a customer's order history.
_OLD_HISTORY = "m.last_order_at AS old_last_order_at, m.median_gap_days AS old_median_gap_days"


def _rewritten_sql() -> dict:
    """The signal's SELECTs of the customers the run changed (PostgreSQL; None elsewhere: all)."""
    if connection.vendor != "postgresql":
        return {"rewritten": None, "history_changed": None}
    return {
        "rewritten": "SELECT customer_id FROM retier_changed",
        "history_changed": "SELECT customer_id FROM retier_changed WHERE last_order_at IS DISTINCT FROM old_last_order_at"
                           " OR median_gap_days IS DISTINCT FROM old_median_gap_days",
    }  # fmt: skip


def _apply_changed(*, run: RetierRun, rules, now) -> tuple[dict, dict, int]:
    """PostgreSQL: the customers whose stored metrics, tier or grace count change (~1% of them on
    a nightly run) into a temporary table (_pick_changed); the matrix, the history and the write
    then read that small table, and the counts per tier are read from TierCount once written.
    Before, the full 1M x 1M join ran three times (tally, history, MERGE): 1.3 + 1.5 + 4.6 s at 1M.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")  # compiling the wide comparison costs more than it saves
        _pick_changed(cursor, run=run, rules=rules)
        cursor.execute("SELECT COUNT(*) FROM retier_changed")
        run.progress = {
            **(run.progress or {}),
            "rewritten": cursor.fetchone()[0],
        }  # shown with the run; decides the VACUUM
        if run.progress["rewritten"] >= FEW_CHANGED:
            cursor.execute("ANALYZE retier_changed")  # a first run puts every customer here
        cursor.execute(
            "SELECT old_tier, new_tier, COUNT(*) FROM retier_changed WHERE old_tier IS DISTINCT FROM new_tier GROUP BY 1, 2"
        )
        moves = cursor.fetchall()
    decided = "SELECT * FROM retier_changed"
    _record_changes(run=run, rules=rules, decided=decided, params=[], now=now)
    with _by_index_lookups(run.progress["rewritten"] < FEW_CHANGED):
        _write_changed(stamp=connection.ops.adapt_datetimefield_value(now))
    with connection.cursor() as cursor:
        cursor.execute("SELECT tier, customers FROM tiering_tiercount WHERE customers <> 0")  # kept by a trigger
        held = cursor.fetchall()
    return _counted(rows=[(t, t, n) for t, n in held], moves=moves)


def _pick_changed(cursor, *, run: RetierRun, rules) -> None:
    """retier_changed: the staged customers joined to their stored row, kept where anything stored
    changes; in CHANGED mode also the customers not recomputed whose tier or grace count the rules
    or the date move, found by one scan of the metrics alone (a CREATE TABLE AS, so PostgreSQL may
    scan in parallel; an INSERT … SELECT may not)."""
    staged, params = _staged_sql(run=run, rules=rules)
    new_tier, new_below = _grace_sql(rules)
    columns = ", ".join(f"r.{c}" for c in ["customer_id", *_METRIC_COLUMNS])
    changed = " OR ".join(
        ["m.customer_id IS NULL", f"m.tier IS DISTINCT FROM {new_tier}", f"m.below_runs IS DISTINCT FROM {new_below}"]
        + [f"m.{c} IS DISTINCT FROM r.{c}" for c in _COMPARED_COLUMNS]
    )
    cursor.execute("DROP TABLE IF EXISTS retier_changed, retier_carried")
    with _by_index_lookups(run.progress.get("recomputed", 0) < FEW_CHANGED):  # else it hashes all 1M metrics
        cursor.execute(
            f"""
            CREATE TEMP TABLE retier_changed ON COMMIT DROP AS
            SELECT {columns}, m.tier AS old_tier, r.rule_tier, {new_tier} AS new_tier, {new_below} AS new_below, {_OLD_HISTORY}
            FROM {staged} LEFT JOIN tiering_customermetrics m ON m.customer_id = r.customer_id
            WHERE {changed}
            """,
            params,
        )
    if run.progress.get("mode") == CHANGED:
        carried, carried_params = _carried_sql(run=run, rules=rules, changed_only=True)
        cursor.execute(f"CREATE TEMP TABLE retier_carried ON COMMIT DROP AS {carried}", carried_params)
        cursor.execute("INSERT INTO retier_changed SELECT * FROM retier_carried")


@contextmanager
def _by_index_lookups(few: bool):
    """With few rows to look up, one index lookup each: the planner otherwise hashes the whole
    metrics table (10,000 rows of 1M: 1.0 s by hash join, 0.5 s by index lookups)."""
    if not few:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_hashjoin = off")
        cursor.execute("SET LOCAL enable_mergejoin = off")
        try:
            yield
        finally:
            cursor.execute("RESET enable_hashjoin")
            cursor.execute("RESET enable_mergejoin")


def _write_changed(*, stamp) -> None:
    """The changed customers' rows into the metrics (retier_changed holds only those)."""
    sets = ", ".join([*(f"{c} = d.{c}" for c in _STORED_COLUMNS), "tier = d.new_tier", "below_runs = d.new_below"])
    columns = ["customer_id", *_STORED_COLUMNS, "tier", "tier_since", "below_runs"]
    values = ["d.customer_id", *(f"d.{c}" for c in _STORED_COLUMNS), "d.new_tier", "%s", "d.new_below"]
    sql = f"""
        MERGE INTO tiering_customermetrics m USING retier_changed d ON m.customer_id = d.customer_id
        WHEN MATCHED THEN UPDATE SET {sets},
            tier_since = CASE WHEN m.tier = d.new_tier THEN m.tier_since ELSE %s END
        WHEN NOT MATCHED THEN INSERT ({", ".join(columns)}) VALUES ({", ".join(values)})
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [stamp, stamp])


def _tally(decided: str, params: list) -> tuple[dict, dict, int]:
    """Customers per tier after the run, the from->to matrix ("new" for a first tier), and movers."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT d.old_tier, d.new_tier, COUNT(*) FROM ({decided}) d GROUP BY d.old_tier, d.new_tier", params
        )
        rows = cursor.fetchall()
    return _counted(rows=rows, moves=[(old, new, n) for old, new, n in rows if old != new])


def _counted(*, rows, moves) -> tuple[dict, dict, int]:
    """Counts per tier from (old, new, customers) rows; the matrix and movers from the moves."""
    counts, matrix, moved = {}, {}, 0
    for _, new, n in rows:
        counts[str(new)] = counts.get(str(new), 0) + n
    for old, new, n in moves:
        matrix[f"{old if old is not None else 'new'}->{new}"] = n
        moved += n if old is not None else 0
    return dict(sorted(counts.items())), dict(sorted(matrix.items())), moved


def _record_changes(*, run: RetierRun, rules, decided: str, params: list, now) -> None:
    """A TierChange per customer whose tier changes, with the why decide() would give.

    PostgreSQL: one INSERT … SELECT with the why built in SQL (why_sql; ~240 µs of Python per
    mover before, 4-5 minutes for a first run at a million customers). SQLite (the demo):
    decide() in Python over the movers, in batches.
    """
    movers = "d.old_tier IS NULL OR d.old_tier <> d.new_tier"
    if connection.vendor == "postgresql":
        why, why_params = why_sql(rules, column=lambda name: f"d.{name}", tier="d.rule_tier")
        sql = f"""
            INSERT INTO tiering_tierchange (customer_id, run_id, from_tier, to_tier, changed_at, why)
            SELECT d.customer_id, %s, d.old_tier, d.new_tier, %s, {why} FROM ({decided}) d WHERE {movers}
        """
        with connection.cursor() as cursor:
            cursor.execute(sql, [run.pk, connection.ops.adapt_datetimefield_value(now), *why_params, *params])
        return
    names = ["customer_id", *_METRIC_COLUMNS, "old_tier", "rule_tier", "new_tier", "new_below"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({decided}) d WHERE {movers}", params)
        while rows := cursor.fetchmany(MOVER_BATCH):
            TierChange.objects.bulk_create(
                _tier_change(dict(zip(names, row)), run=run, rules=rules, now=now) for row in rows
            )


def _tier_change(row: dict, *, run: RetierRun, rules, now) -> TierChange:
    """The history row of one mover, its why from the pure decide()."""
    metrics = {name: _typed(name, row[name]) for name in METRICS}
    why = json.loads(json.dumps(decide(metrics, rules).why(), cls=DjangoJSONEncoder))  # Decimals as JSON stores them
    return TierChange(
        customer_id=row["customer_id"],
        run=run,
        from_tier=row["old_tier"],
        to_tier=row["new_tier"],
        changed_at=now,
        why=why,
    )


def _typed(name: str, value):
    """Values as the ORM would give them (SQLite returns floats for decimals)."""
    if value is None or isinstance(value, (Decimal, int)):
        return value
    if METRICS[name].kind in ("money", "ratio") or name == "median_gap_days":
        return Decimal(str(value))
    return int(value)


def _write_metrics(*, run: RetierRun, rules, decided: str, params: list, now) -> None:
    """SQLite: write every customer's metrics and tier, skipping rows where nothing stored changed
    (the as_of date alone is no change), in one INSERT … ON CONFLICT over the decided rows.
    PostgreSQL writes only the changed rows it has already picked out (_write_changed).
    """
    stamp = connection.ops.adapt_datetimefield_value(now)
    t = "tiering_customermetrics"
    kept = [*_STORED_COLUMNS, "tier", "below_runs"]
    columns = ["customer_id", *_STORED_COLUMNS, "tier", "tier_since", "below_runs"]
    values = ", ".join(["d.customer_id", *(f"d.{c}" for c in _STORED_COLUMNS), "d.new_tier", "%s", "d.new_below"])
    changed = " OR ".join(f"{t}.{c} IS DISTINCT FROM excluded.{c}" for c in [*_COMPARED_COLUMNS, "tier", "below_runs"])
    sets = ", ".join(f"{c} = excluded.{c}" for c in kept)
    sql = f"""
        INSERT INTO {t} ({", ".join(columns)})
        SELECT {values} FROM ({decided}) d WHERE 1 = 1
        ON CONFLICT (customer_id) DO UPDATE SET {sets},
            tier_since = CASE WHEN {t}.tier = excluded.tier THEN {t}.tier_since ELSE excluded.tier_since END
        WHERE {changed}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [stamp, *params])


# --- run record ----------------------------------------------------------------------------------


def _finish(run: RetierRun, *, status: str, error: str = "") -> RetierRun:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    run.save(update_fields=["status", "error", "finished_at", "counts", "matrix", "moved", "progress"])
    return run


def _record_failure(run: RetierRun, exc: BaseException) -> None:
    """Record the failure on a connection that works (the failing one may have been killed)."""
    if not connection.is_usable():
        connection.close()
    message = str(exc) or exc.__class__.__name__
    if not isinstance(exc, RetierError):
        message = f"{exc.__class__.__name__}: {message}"
    try:
        RetierRun.objects.filter(pk=run.pk).update(
            status=RetierRun.Status.FAILED, error=message, finished_at=timezone.now()
        )
    except Exception:  # the database itself is gone; the next run will reap this one
        log.exception("could not record the failure of re-tier run %s", run.pk)
    run.status, run.error = RetierRun.Status.FAILED, message


def _refresh_planner_statistics(run: RetierRun) -> None:
    """After a real run: fresh statistics for the pages' plans; VACUUM only outside a transaction.

    A nightly run that rewrote few rows (< FEW_CHANGED) moves no statistic worth a fresh ANALYZE
    (0.9 s at 1M customers) and leaves the VACUUM to autovacuum, whose thresholds for the metrics
    table are low enough to run within a minute (migration 0007). Where autovacuum is off, it
    VACUUMs the metrics itself, as the pages' index-only counts need: the heap alone (0.1 s for
    10,000 rewritten rows of 1M), and indexes too (0.6 s) once the rows rewritten since the last
    such VACUUM pass FULL_VACUUM_SHARE of the customers. run.progress["vacuum"] says which.
    """
    if connection.vendor != "postgresql":
        return
    rewritten = (run.progress or {}).get("rewritten")
    with connection.cursor() as cursor:
        if rewritten is not None and rewritten < FEW_CHANGED:
            cursor.execute("SELECT current_setting('autovacuum') = 'on'")
            if cursor.fetchone()[0] or connection.in_atomic_block:
                return
            full = _rewritten_since_full_vacuum(run) >= FULL_VACUUM_SHARE * max(1, sum(run.counts.values()))
            cursor.execute(
                "VACUUM tiering_customermetrics" if full else "VACUUM (INDEX_CLEANUP OFF) tiering_customermetrics"
            )
            cursor.execute(f"VACUUM {changes.TABLE}")  # the marks this run took and deleted
        elif connection.in_atomic_block:
            cursor.execute("ANALYZE tiering_customermetrics, tiering_tierchange")
            return
        else:
            cursor.execute(f"VACUUM (ANALYZE) tiering_customermetrics, tiering_tierchange, {changes.TABLE}")
            full = True
    run.progress = {**run.progress, "vacuum": "full" if full else "heap"}
    RetierRun.objects.filter(pk=run.pk).update(progress=run.progress)


def _rewritten_since_full_vacuum(run: RetierRun) -> int:
    """Metrics rows rewritten by the real runs since the last one that VACUUMed indexes too."""
    runs = RetierRun.objects.filter(status=RetierRun.Status.SUCCEEDED, dry_run=False, started_at__lte=run.started_at)
    rewritten = 0
    for progress in runs.order_by("-started_at", "-id").values_list("progress", flat=True)[:1000]:
        if (progress or {}).get("vacuum") == "full":
            break
        rewritten += (progress or {}).get("rewritten") or 0
    return rewritten
