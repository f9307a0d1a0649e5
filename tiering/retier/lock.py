"""Single flight: one re-tier at a time, through a PostgreSQL session advisory lock.

A run left "running" whose process is gone (nobody holds the lock any more, or it stopped beating)
is marked interrupted by tiering.runs: by the next run (which takes the lock), the Runs page and the
overview (which only look at it), and beat's check every minute.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

from .. import runs
from ..models import RetierRun
from ..runs import INTERRUPTED_ERROR, RETIER_LOCK_KEY

DEAD_RUN_ERROR = INTERRUPTED_ERROR  # the name other modules knew


@contextmanager
def single_flight() -> Iterator[bool]:
    """Yield True when this process may run (and then holds the re-tier lock until the block ends).

    Taking the lock also marks any run still recorded as running as interrupted: its process is gone.
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
    """Call only while holding the lock: any run still marked running lost its process (it is
    marked interrupted, and the admins are told)."""
    return len(runs.mark_interrupted(RetierRun.objects.filter(status=RetierRun.Status.RUNNING)))


def reap_dead_runs() -> None:
    """For the Runs page: runs whose process is gone are marked interrupted (tiering.runs)."""
    runs.reap_interrupted()
