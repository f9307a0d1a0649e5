"""Celery tasks of the tiering app: thin wrappers around services.retier_all.

The re-tier is long at full size: soft limit 45 min (raises inside the run, which then rolls back
and records the failure), hard limit 50 min (the worker process is killed; the run stops beating
and tiering.runs marks it interrupted within a minute). acks_late: the message is acknowledged
when the task ends, so a message whose worker vanished (killed, out of memory, lost connection to
Redis) is delivered again once the broker's visibility timeout passes; tiering.runs counts the
deliveries and gives up after RETIER_MAX_DELIVERIES, so a task that kills its worker every time
is not retried forever. A worker killed by the time limit does not redeliver
(CELERY_TASK_REJECT_ON_WORKER_LOST is off): the run is interrupted, everyone kept their tier, and
the next night (or "Run re-tier now") re-tiers.
"""

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import runs
from .metrics import compute_metrics_range
from .models import RetierRun
from .services import retier_all

log = logging.getLogger(__name__)

LIMITS = {
    "soft_time_limit": settings.RETIER_SOFT_TIME_LIMIT,
    "time_limit": settings.RETIER_HARD_TIME_LIMIT,
    "acks_late": True,
}


@shared_task(bind=True, **LIMITS)
def retier_task(self, as_of: str | None = None, triggered_by: str = "") -> int:
    """Re-tier as of an ISO date (default: today); returns the run id."""
    return _retier(task_id=self.request.id, as_of=as_of, triggered_by=triggered_by)


@shared_task(bind=True, **LIMITS)
def nightly_retier(self) -> int | None:
    """Tonight's run, once: a second trigger for a date whose nightly run succeeded or is going
    (two beat processes, a beat restarted at 02:00) starts nothing."""
    today = timezone.localdate()
    nightly = RetierRun.objects.filter(triggered_by="nightly", as_of=today, dry_run=False)
    done = nightly.filter(status__in=[RetierRun.Status.RUNNING, RetierRun.Status.SUCCEEDED]).first()
    if done is not None and done.task_id != self.request.id:
        log.warning("nightly re-tier of %s triggered again: run %s is %s; nothing started", today, done.pk, done.status)
        return done.pk
    return _retier(task_id=self.request.id, as_of=today.isoformat(), triggered_by="nightly")


def _retier(*, task_id: str | None, as_of: str | None, triggered_by: str) -> int:
    day = dt.date.fromisoformat(as_of) if as_of else timezone.localdate()
    return runs.run_delivered(
        task_id=task_id,
        as_of=day,
        triggered_by=triggered_by,
        start=lambda: retier_all(as_of=day, triggered_by=triggered_by),
    )


@shared_task(soft_time_limit=50, time_limit=60)
def reap_interrupted_runs() -> int:
    """Every minute (beat): mark runs whose process died as interrupted and email the admins, and
    history backfills whose process died as interrupted; forget the delivery counts of old tasks."""
    runs.forget_old_deliveries()
    runs.reap_backfills()
    return len(runs.reap_interrupted())


@shared_task(**LIMITS)
def compute_range_task(*, run_id: int, as_of: str, lo: int, hi: int) -> int:
    """One range of customer ids into the metrics stage (RETIER_ON_WORKERS); returns rows staged."""
    return compute_metrics_range(run_id=run_id, as_of=dt.date.fromisoformat(as_of), lo=lo, hi=hi)


@shared_task(soft_time_limit=10 * 60, time_limit=12 * 60)
def calibrate_run_task(run_id: int) -> None:
    """After a re-tier commits: the rule page's calibration measured once over what it stored
    (tiering.calibration.calibrate_run), instead of in the page's request."""
    from .calibration import calibrate_run

    calibrate_run(run_id=run_id)


# A backfill replays one full metrics pass per month end: at a million customers and 24 months, tens
# of minutes on a busy 2-core machine (docs/backfill.md), beyond a nightly run's limits.
BACKFILL_LIMITS = {**LIMITS, "soft_time_limit": 3 * 60 * 60, "time_limit": 3 * 60 * 60 + 10 * 60}


@shared_task(**BACKFILL_LIMITS)
def backfill_tiers_task(months: int = 24, triggered_by: str = "") -> int:
    """Replay the tiers at month ends over the loaded history (tiering.retier.backfill); returns the
    backfill's record id (its status says whether it ran, was skipped or failed)."""
    from .retier.backfill import backfill_tiers

    return backfill_tiers(months=months, triggered_by=triggered_by).pk
