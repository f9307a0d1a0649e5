"""A re-tier run's life signs, kept apart from the run itself.

- heartbeat(): while a run works, a thread writes `heartbeat_at` every RETIER_HEARTBEAT_SECONDS on
  its own connection (autocommit), so other sessions see it while the run's transaction is open.
- reap_interrupted(): a run still recorded as running whose process is gone (PostgreSQL: nobody
  holds the re-tier lock, or no heartbeat for RETIER_HEARTBEAT_TIMEOUT) is marked interrupted and
  the admins get an email. Called every minute by beat (tasks.reap_interrupted_runs), by the Runs
  page and the overview, and by the next run when it takes the lock.
- run_delivered(): a re-tier task delivered again after its worker died runs again at most
  RETIER_MAX_DELIVERIES times in all; after that its run is failed with the reason. A delivery of
  a task that already ran (or is running: a run longer than the broker's visibility timeout) does
  nothing.
- note_if_unchanged(): a run that changed nothing says so, naming the run whose result it found.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import connection
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from .models import RetierRun, TaskDelivery

log = logging.getLogger(__name__)

RETIER_LOCK_KEY = 0x54494552  # the re-tier's advisory lock (pg_try_advisory_lock), ASCII "TIER"
INTERRUPTED_ERROR = "worker died or was killed: nothing it did was applied, every customer kept their tier"
PERMISSIONS_BACKEND = "django.contrib.auth.backends.ModelBackend"  # the one that knows permissions
_task_id: ContextVar[str] = ContextVar("retier_task_id", default="")


# --- heartbeat ---------------------------------------------------------------------------------


@contextmanager
def heartbeat(run):
    """Beat for `run` (a RetierRun, or any run record with `status` and `heartbeat_at`, such as a
    TierBackfill) while the block runs, and tag a re-tier with the Celery task running it.

    The thread is started only outside a transaction: inside one the run's row is not committed
    (nobody else could see it).
    """
    model = type(run)
    tagged = {"task_id": _task_id.get()} if model is RetierRun else {}
    model.objects.filter(pk=run.pk).update(heartbeat_at=Now(), **tagged)
    if connection.in_atomic_block:
        yield
        return
    with connection.cursor() as cursor:
        # a worker killed while its query runs: the server notices within seconds and ends that
        # query, releasing the run's lock, instead of running it to the end for nobody
        cursor.execute("SET client_connection_check_interval = '5s'")
    stop = threading.Event()
    beat = threading.Thread(target=_beat, args=(model, run.pk, stop), name=f"retier-heartbeat-{run.pk}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join(timeout=settings.RETIER_HEARTBEAT_SECONDS + 30)  # a beat stuck on the database is let go


def _beat(model, run_id: int, stop: threading.Event) -> None:
    """The thread's loop, on the thread's own connection (Django opens one per thread)."""
    try:
        while not stop.wait(settings.RETIER_HEARTBEAT_SECONDS):
            try:
                model.objects.filter(pk=run_id, status="running").update(heartbeat_at=Now())
            except Exception:  # the database is away for a moment: the next beat tries again
                log.warning("could not write the heartbeat of %s %s", model.__name__, run_id, exc_info=True)
                connection.close()
    finally:
        connection.close()


# --- detecting dead runs -----------------------------------------------------------------------


def reap_interrupted() -> list[RetierRun]:
    """Mark the runs recorded as running whose process is gone as interrupted; returns them.

    It only looks at the lock (pg_locks), never takes it, so a check cannot make a run that starts
    at that moment be skipped. A run is recorded as running only while its lock is held, and records
    itself after taking the lock: with the lock held, the newest running run is its holder and goes on
    (its transaction may still commit whatever its heartbeat says), and only older ones are judged by
    their heartbeat.
    """
    running = RetierRun.objects.filter(status=RetierRun.Status.RUNNING)
    if not running.exists():
        return []
    if not _lock_held():
        return mark_interrupted(running)
    running = running.exclude(pk__in=running.order_by("-id").values("pk")[:1])
    silent_since = timezone.now() - dt.timedelta(seconds=settings.RETIER_HEARTBEAT_TIMEOUT)
    last_sign = Q(heartbeat_at__lt=silent_since) | Q(heartbeat_at__isnull=True, started_at__lt=silent_since)
    return mark_interrupted(running.filter(last_sign))


def reap_backfills() -> int:
    """A history backfill recorded as running whose process is gone (it holds the re-tier lock while
    it runs, and beats): marked interrupted; the history it was replacing stands. Called by beat's
    check every minute and the admin's list of backfills (not by every page that reaps runs)."""
    from .models import TierBackfill
    from .retier.backfill import INTERRUPTED_ERROR as BACKFILL_INTERRUPTED

    running = TierBackfill.objects.filter(status=TierBackfill.Status.RUNNING)
    if not running.exists():
        return 0
    if _lock_held():
        silent_since = timezone.now() - dt.timedelta(seconds=settings.RETIER_HEARTBEAT_TIMEOUT)
        running = running.filter(
            Q(heartbeat_at__lt=silent_since) | Q(heartbeat_at__isnull=True, started_at__lt=silent_since)
        )
    return running.update(
        status=TierBackfill.Status.INTERRUPTED, error=BACKFILL_INTERRUPTED, finished_at=timezone.now()
    )


def _lock_held() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = 0 AND objid = %s AND objsubid = 1"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
            [RETIER_LOCK_KEY],
        )
        return cursor.fetchone()[0]


def mark_interrupted(runs) -> list[RetierRun]:
    """Mark these running runs interrupted, each by a conditional update so that only one of
    several checkers at once marks (and reports) it."""
    marked = []
    for run in runs.filter(status=RetierRun.Status.RUNNING):
        now = timezone.now()
        claimed = RetierRun.objects.filter(pk=run.pk, status=RetierRun.Status.RUNNING).update(
            status=RetierRun.Status.INTERRUPTED, error=INTERRUPTED_ERROR, finished_at=now
        )
        if claimed:
            run.status, run.error, run.finished_at = RetierRun.Status.INTERRUPTED, INTERRUPTED_ERROR, now
            notify_admins(run)
            marked.append(run)
    return marked


def notify_admins(run: RetierRun) -> None:
    """An email to everyone who may start a re-tier (and settings.ADMINS). A mail server that is
    down must not break the page that noticed: it is logged."""
    heard = run.heartbeat_at or run.started_at
    body = (
        f"Re-tier run #{run.pk} (as of {run.as_of}, started {run.started_at:%Y-%m-%d %H:%M:%S %Z} by "
        f"{run.triggered_by or 'unknown'}) stopped without finishing; last sign of life {heard:%H:%M:%S %Z}.\n\n"
        f"The {INTERRUPTED_ERROR}. The next nightly run re-tiers everyone; to do it now, use "
        f'"Run re-tier now" on the Runs page. If it happens again, read the worker\'s log (out of memory?).\n'
    )
    try:
        recipients = sorted(admin_emails())
        if recipients:
            send_mail(f"Re-tier run #{run.pk} was interrupted", body, None, recipients)
    except Exception:
        log.exception("could not email the admins about interrupted re-tier run %s", run.pk)


def admin_emails() -> set[str]:
    users = get_user_model().objects.with_perm("tiering.run_retier", backend=PERMISSIONS_BACKEND)
    users = users.filter(is_active=True).exclude(email="")
    return {*users.values_list("email", flat=True), *(email for _, email in settings.ADMINS)}


# --- deliveries of the re-tier task ------------------------------------------------------------


def run_delivered(*, task_id: str | None, as_of: dt.date, triggered_by: str, start: Callable[[], RetierRun]) -> int:
    """Run `start` for this delivery of Celery task `task_id`, unless the task already ran (or is
    running), or it has been delivered more than RETIER_MAX_DELIVERIES times (each earlier one
    killed its worker). Returns the id of the run that stands for the task."""
    if not task_id:
        return start().pk
    deliveries = count_delivery(task_id)
    earlier = _earlier_run(task_id)
    if earlier is not None and earlier.status != RetierRun.Status.INTERRUPTED:
        log.warning(
            "re-tier task %s delivered again (%s times): run %s is %s", task_id, deliveries, earlier.pk, earlier.status
        )
        return earlier.pk
    if deliveries > settings.RETIER_MAX_DELIVERIES:
        return give_up(
            task_id=task_id, deliveries=deliveries, earlier=earlier, as_of=as_of, triggered_by=triggered_by
        ).pk
    token = _task_id.set(task_id)
    try:
        return start().pk
    finally:
        _task_id.reset(token)


def count_delivery(task_id: str) -> int:
    """One more delivery of the task; returns how many there were, this one included."""
    delivery, created = TaskDelivery.objects.get_or_create(task_id=task_id, defaults={"deliveries": 1})
    if created:
        return 1
    TaskDelivery.objects.filter(pk=task_id).update(deliveries=F("deliveries") + 1, last_delivered_at=Now())
    return TaskDelivery.objects.values_list("deliveries", flat=True).get(pk=task_id)


def forget_old_deliveries(*, days: int = 7) -> int:
    """Delivery counts of tasks last delivered long ago: no broker hands those out again."""
    old = TaskDelivery.objects.filter(last_delivered_at__lt=timezone.now() - dt.timedelta(days=days))
    return old.delete()[0]


def _earlier_run(task_id: str) -> RetierRun | None:
    """The last run of this task, after marking it interrupted if its process is gone."""
    earlier = RetierRun.objects.filter(task_id=task_id).order_by("-id").first()
    if earlier is not None and earlier.status == RetierRun.Status.RUNNING:
        reap_interrupted()
        earlier.refresh_from_db()
    return earlier


def give_up(*, task_id: str, deliveries: int, earlier: RetierRun | None, as_of, triggered_by: str) -> RetierRun:
    """Fail the task's run (its last interrupted one, or a new record) with the reason, and stop."""
    reason = (
        f"Given up after {deliveries - 1} attempts: the worker died during each (killed, or out of memory?), "
        f"so the task is not run again. Every customer kept their tier. Read the worker's log, then start a "
        f"re-tier by hand. (Celery task {task_id})"
    )
    run = earlier or RetierRun(as_of=as_of, triggered_by=triggered_by[:100], task_id=task_id)
    run.status, run.error, run.finished_at = RetierRun.Status.FAILED, reason, timezone.now()
    run.save()
    log.error("re-tier task %s: %s", task_id, reason)
    return run


# --- a run that changed nothing ----------------------------------------------------------------


def note_if_unchanged(run: RetierRun) -> None:
    """A real run that moved, placed and rewrote no one found the result of the last run of the
    same date: say so on the Runs page ("Changed nothing since run #N of DATE").

    PostgreSQL only: there a run counts the metrics rows it rewrote (progress["rewritten"]).
    """
    if run.dry_run or run.status != RetierRun.Status.SUCCEEDED or run.matrix:
        return
    if (run.progress or {}).get("rewritten") != 0:
        return
    same_day = RetierRun.objects.filter(status=RetierRun.Status.SUCCEEDED, dry_run=False, as_of=run.as_of)
    before = same_day.filter(started_at__lte=run.started_at).exclude(pk=run.pk).order_by("-started_at", "-id").first()
    if before is None:
        return
    run.note = f"Changed nothing since run #{before.pk} of {timezone.localtime(before.started_at):%Y-%m-%d %H:%M}."
    RetierRun.objects.filter(pk=run.pk).update(note=run.note)
