"""Single flight: one re-tier at a time, through a PostgreSQL session advisory lock.

A run left "running" whose lock nobody holds any more was killed with its worker: the next run
(which takes the lock) or the Runs page (which only looks at it) marks it failed.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django.utils import timezone

from ..models import RetierRun

# pg_try_advisory_lock key of the re-tier: ASCII "TIER".
RETIER_LOCK_KEY = 0x54494552
DEAD_RUN_ERROR = "worker died or was killed"


@contextmanager
def single_flight() -> Iterator[bool]:
    """Yield True when this process may run (and then holds the re-tier lock until the block ends).

    Taking the lock also marks any run still recorded as running as failed: its process is gone.
    """
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


def mark_dead_runs_failed() -> int:
    """Call only while holding the lock: any run still marked running lost its process."""
    running = RetierRun.objects.filter(status=RetierRun.Status.RUNNING)
    return running.update(status=RetierRun.Status.FAILED, error=DEAD_RUN_ERROR, finished_at=timezone.now())


def reap_dead_runs() -> None:
    """For the Runs page: a run shown as running while nobody holds the lock is marked failed.

    It only looks at the lock (pg_locks), never takes it, so a page load cannot make a run that
    starts at that moment be skipped. A run is recorded as running only while its lock is held.
    """
    if not RetierRun.objects.filter(status=RetierRun.Status.RUNNING).exists():
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = 0 AND objid = %s AND objsubid = 1"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
            [RETIER_LOCK_KEY],
        )
        held = cursor.fetchone()[0]
    if not held:
        mark_dead_runs_failed()
