"""Celery tasks of the tiering app: thin wrappers around services.retier_all.

The re-tier is long at full size: soft limit 45 min (raises inside the run, which then rolls back
and records the failure), hard limit 50 min (the worker process is killed; the next run or the
Runs page marks the run failed "worker died or was killed"). acks_late: the message is
acknowledged when the task ends, so a message whose worker vanished (lost connection to Redis)
is delivered again; single-flight and idempotence make running it again safe. A worker killed by
the time limit does not redeliver (CELERY_TASK_REJECT_ON_WORKER_LOST is off): the run is failed,
everyone kept their tier, and the next night (or "Run re-tier now") re-tiers.
"""

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .metrics import compute_metrics_range
from .services import retier_all

LIMITS = {
    "soft_time_limit": settings.RETIER_SOFT_TIME_LIMIT,
    "time_limit": settings.RETIER_HARD_TIME_LIMIT,
    "acks_late": True,
}


@shared_task(**LIMITS)
def retier_task(as_of: str | None = None, triggered_by: str = "") -> int:
    """Re-tier as of an ISO date (default: today); returns the run id."""
    day = dt.date.fromisoformat(as_of) if as_of else timezone.localdate()
    return retier_all(as_of=day, triggered_by=triggered_by).pk


@shared_task(**LIMITS)
def nightly_retier() -> int:
    return retier_task(triggered_by="nightly")


@shared_task(**LIMITS)
def compute_range_task(*, run_id: int, as_of: str, lo: int, hi: int) -> int:
    """One range of customer ids into the metrics stage (RETIER_ON_WORKERS); returns rows staged."""
    return compute_metrics_range(run_id=run_id, as_of=dt.date.fromisoformat(as_of), lo=lo, hi=hi)
