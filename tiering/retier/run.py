"""The entry point of the re-tier: the only code that writes the run record."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from customers import changes
from customers.models import Customer

from .. import runs
from ..cuts import cuts_json
from ..models import RetierRun, RuleSet
from ..signals import RetierApplied, retier_applied
from . import backfill
from .apply import Applied, apply_tiers
from .lock import single_flight
from .plan import Plan, build_plan, failure_text, with_cuts_resolved
from .stage import clear_stage, stage_metrics
from .vacuum import refresh_planner_statistics

log = logging.getLogger(__name__)


def retier_all(
    *, as_of: dt.date, ruleset: RuleSet | None = None, dry_run: bool = False, triggered_by: str = ""
) -> RetierRun:
    """Re-tier every customer as of `as_of` with `ruleset` (default: the published one).

    Returns the run record: succeeded, or skipped when another run holds the lock. A failure is
    recorded on the run (status failed, error text) and re-raised.
    """
    deferred: list[int] = []
    run = _retier_all(as_of=as_of, ruleset=ruleset, dry_run=dry_run, triggered_by=triggered_by, deferred=deferred)
    if deferred and run.status == RetierRun.Status.SUCCEEDED:
        _queue_backfill(months=deferred[0], triggered_by=triggered_by)
    return run


def _retier_all(
    *, as_of: dt.date, ruleset: RuleSet | None, dry_run: bool, triggered_by: str, deferred: list[int]
) -> RetierRun:
    ruleset = ruleset or RuleSet.objects.filter(status=RuleSet.Status.PUBLISHED).first()
    record = {"as_of": as_of, "ruleset": ruleset, "dry_run": dry_run, "triggered_by": triggered_by[:100]}
    with single_flight() as acquired:
        if not acquired:  # recorded as over at once: never "running", so never reported as interrupted
            return RetierRun.objects.create(
                **record,
                status=RetierRun.Status.SKIPPED,
                error="Another re-tier run was going; this one did nothing.",
                finished_at=timezone.now(),
            )
        if not dry_run:
            _backfill_if_first(as_of=as_of, ruleset=ruleset, triggered_by=triggered_by, deferred=deferred)
        run = RetierRun.objects.create(**record)  # after the lock, so no one takes it for dead
        try:
            with runs.heartbeat(run):  # tiering.runs: a run whose process dies is seen at once
                plan, applied = _run(run, ruleset)
        except RunLost:
            run.refresh_from_db()  # interrupted, as the admins were told; nothing was applied
            return run
        except BaseException as exc:
            _record_failure(run, exc)
            raise
    runs.note_if_unchanged(run)  # tiering.runs: the same night run twice says it changed nothing
    if not dry_run:
        vacuum = refresh_planner_statistics(plan, applied)
        if vacuum:
            _save_progress(run, vacuum=vacuum)
    return run


def _backfill_if_first(*, as_of: dt.date, ruleset: RuleSet | None, triggered_by: str, deferred: list[int]) -> None:
    """A first run over loaded history replays the tiers at the month ends before its date first
    (tiering.retier.backfill), so that churn detection tonight and the timelines see the tiers held
    while customers were buying. Its failure is on its own record and does not stop the run.

    Above RETIER_BACKFILL_INLINE_MAX_CUSTOMERS the replay (minutes per month end at a million
    customers) would not fit the run's own time limit: the run goes first, and the backfill is
    queued as a task of its own once the run has succeeded (`deferred` receives its months)."""
    months = settings.RETIER_BACKFILL_MONTHS
    if ruleset is None or not RuleSet.objects.filter(pk=ruleset.pk, status=RuleSet.Status.PUBLISHED).exists():
        return  # the run itself will say what is wrong
    if not backfill.wanted_on_first_run(months):
        return
    if Customer.objects.count() > settings.RETIER_BACKFILL_INLINE_MAX_CUSTOMERS:
        log.warning("first re-tier over loaded history: the %s-month backfill is queued after the run", months)
        deferred.append(months)
        return
    try:
        backfill.backfill_locked(
            months=months, ruleset=ruleset, before=as_of, triggered_by=f"first run: {triggered_by}"
        )
    except Exception:
        log.exception("the backfill before the first re-tier failed; the run goes on without it")


def _queue_backfill(*, months: int, triggered_by: str) -> None:
    """The first run's backfill, as its own task (tiering.tasks.backfill_tiers_task, longer limits)."""
    from ..tasks import backfill_tiers_task

    try:
        backfill_tiers_task.delay(months=months, triggered_by=f"after the first run: {triggered_by}"[:100])
    except Exception:  # the queue is down: the run stands; `manage.py backfill_tiers` does the same
        log.exception("the backfill after the first re-tier could not be queued; run manage.py backfill_tiers")


def _run(run: RetierRun, ruleset: RuleSet | None) -> tuple[Plan, Applied]:
    """Plan, metrics, then apply, history and hand-off in one transaction with the run record."""
    plan = build_plan(run, ruleset)
    run.progress = {"mode": plan.mode}  # written with the first step

    def report(step: str, done: int, total: int) -> None:
        _save_progress(run, step=step, done=done, total=total)

    recomputed, steps = stage_metrics(plan, report)
    plan = with_cuts_resolved(plan)  # relative thresholds: once, over the metrics applied below
    run.cuts = cuts_json(plan.rules)
    _save_progress(run, recomputed=recomputed, step="applying tiers", done=steps, total=steps)
    with transaction.atomic():
        applied = apply_tiers(plan, recomputed=recomputed)
        if not plan.dry_run:
            with connection.cursor() as cursor:
                changes.release(cursor, run_id=plan.run_id)  # the marks this run took, now accounted for
            retier_applied.send(sender=RetierRun, applied=RetierApplied(run_id=plan.run_id, as_of=plan.as_of))
        clear_stage()
        run.counts, run.matrix, run.moved = applied.counts, applied.matrix, applied.moved
        if applied.rewritten is not None:
            run.progress = {**run.progress, "rewritten": applied.rewritten}  # shown with the run
        _finish(run, status=RetierRun.Status.SUCCEEDED)
    return plan, applied


def _save_progress(run: RetierRun, **values) -> None:
    run.progress = {**(run.progress or {}), **values}
    RetierRun.objects.filter(pk=run.pk).update(progress=run.progress)


class RunLost(Exception):
    """The run was marked interrupted while it went on (the admins were told nothing was applied):
    its apply transaction must roll back."""


def _finish(run: RetierRun, *, status: str, error: str = "") -> RetierRun:
    """Record the outcome, only on a run still recorded as running (else RunLost)."""
    now = timezone.now()
    fields = {
        "counts": run.counts,
        "matrix": run.matrix,
        "moved": run.moved,
        "progress": run.progress,
        "cuts": run.cuts,
    }
    if not RetierRun.objects.filter(pk=run.pk, status=RetierRun.Status.RUNNING).update(
        status=status, error=error, finished_at=now, **fields
    ):
        raise RunLost(run.pk)
    run.status, run.error, run.finished_at = status, error, now
    return run


def _record_failure(run: RetierRun, exc: BaseException) -> None:
    """Record the failure on a connection that works (the failing one may have been killed)."""
    if not connection.is_usable():
        connection.close()
    message = failure_text(exc)
    try:
        RetierRun.objects.filter(pk=run.pk).update(
            status=RetierRun.Status.FAILED, error=message, finished_at=timezone.now()
        )
    except Exception:  # the database itself is gone; the next run will reap this one
        log.exception("could not record the failure of re-tier run %s", run.pk)
    run.status, run.error = RetierRun.Status.FAILED, message
