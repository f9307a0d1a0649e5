"""Stage 1, metrics: the plan's customers' metrics into tiering_metricsstage.

Each range of customer ids is its own short transaction, so ranges can be computed by several
connections or Celery workers; nothing users read changes in this stage.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

from celery import current_app
from django.conf import settings
from django.db import connection

from customers import changes

from .. import sql
from ..metrics import compute_metrics_of, compute_metrics_range, customer_ranges
from .plan import CHANGED, Plan

# report(step, done, total): how far the stage is, for the run record (written by the entry point)
Report = Callable[[str, int, int], None]


def stage_metrics(plan: Plan, report: Report) -> tuple[int, int]:
    """The metrics the plan recomputes, into the stage. Returns (customers staged, steps taken)."""
    clear_stage()
    if plan.mode == CHANGED:
        report("computing metrics of changed customers", 0, 1)
        recomputed = compute_metrics_of(run_id=plan.run_id, as_of=plan.as_of, targets=changed_customers_sql(plan))
        total = 1
    else:
        recomputed, total = _stage_all_ranges(plan, report)
    with connection.cursor() as cursor:
        # the apply step's plans need tonight's counts: with last night's, the planner took
        # the stage for one row and compared each carried customer with all of it (1.1 s)
        cursor.execute("ANALYZE tiering_metricsstage")
    return recomputed, total


def changed_customers_sql(plan: Plan) -> str:
    """The customers a CHANGED run recomputes: marked since (the marks this run took; a dry run,
    which takes none, reads them all) or due to change by this as_of. New customers are marked,
    and so are customers whose metrics row was deleted (a trigger on the metrics)."""
    return sql.compose(
        "{marked} UNION SELECT customer_id FROM tiering_customermetrics WHERE next_change_on <= %(as_of)s",
        marked=changes.marked_sql(taken=not plan.dry_run),
    )


def clear_stage() -> None:
    """Empty the stage (rows of a dead run, or of this one once applied). Safe: single-flight."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tiering_metricsstage")


def _stage_all_ranges(plan: Plan, report: Report) -> tuple[int, int]:
    """Metrics of every range into the stage: on Celery workers when RETIER_ON_WORKERS is set,
    else in this process (RETIER_PARALLEL ranges at a time, each on its own connection, so the
    database uses that many cores). Returns (customers, ranges)."""
    on_workers = _can_run_ranges_on_workers()
    workers = settings.RETIER_PARALLEL if on_workers or _can_run_ranges_in_threads() else 1
    ranges = customer_ranges(size=settings.RETIER_RANGE_SIZE, at_least=workers)
    report("computing metrics", 0, len(ranges))
    if on_workers:
        _stage_on_workers(plan, ranges, report)
    elif workers > 1:
        _stage_in_threads(plan, ranges, workers, report)
    else:
        for done, (lo, hi) in enumerate(ranges, start=1):
            compute_metrics_range(run_id=plan.run_id, as_of=plan.as_of, lo=lo, hi=hi)
            report("computing metrics", done, len(ranges))
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM tiering_metricsstage WHERE run_id = %s", [plan.run_id])
        return cursor.fetchone()[0], len(ranges)


def _stage_in_threads(plan: Plan, ranges: list[tuple[int, int]], workers: int, report: Report) -> None:
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(_compute_range_in_thread, plan, lo, hi) for lo, hi in ranges]
        for done, future in enumerate(as_completed(futures), start=1):
            future.result()
            report("computing metrics", done, len(ranges))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # on a failure, start no further range


def _can_run_ranges_on_workers() -> bool:
    """Workers see only committed rows and need a broker: not eager, not inside a transaction."""
    return settings.RETIER_ON_WORKERS and not settings.CELERY_TASK_ALWAYS_EAGER and not connection.in_atomic_block


def _stage_on_workers(plan: Plan, ranges: list[tuple[int, int]], report: Report) -> None:
    """Hand each range to a Celery worker (tiering.tasks.compute_range_task) and wait for all.

    This process keeps the single-flight lock and applies the result atomically afterwards; a
    range that fails fails the run. Needs a worker pool with a free slot besides the one running
    this (several workers, or --concurrency of 2 or more).
    """
    app = current_app._get_current_object()
    results = [
        app.send_task(
            "tiering.tasks.compute_range_task",
            kwargs={"run_id": plan.run_id, "as_of": plan.as_of.isoformat(), "lo": lo, "hi": hi},
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
        report("computing metrics on workers", len(results) - len(pending), len(results))
        if pending:
            time.sleep(0.5)


def _can_run_ranges_in_threads() -> bool:
    """Other connections see only committed rows: not inside a transaction (e.g. a test's)."""
    return settings.RETIER_PARALLEL > 1 and not connection.in_atomic_block


def _compute_range_in_thread(plan: Plan, lo: int, hi: int) -> int:
    try:
        return compute_metrics_range(run_id=plan.run_id, as_of=plan.as_of, lo=lo, hi=hi)
    finally:
        connection.close()  # this thread's own connection
