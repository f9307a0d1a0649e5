"""Real Celery workers on Redis, killed with SIGKILL in the middle of a re-tier, and other ways a
task reaches a worker more than once (see test_retier_celery.py for the plain run).

A run is held in the middle by a lock the test takes on the metrics stage: the run waits there,
recorded as running, beating, its lock taken, until the test lets go or kills its worker.
"""

import datetime as dt
import os
import signal
import time
from contextlib import contextmanager

import pytest
import redis
from celery import Celery
from django.db import transaction

from config.celery import app as celery_app
from tests.factories import CustomerFactory
from tests.tiering.retier_helpers import at, buy, other_connection, publish_rules, tiers
from tests.tiering.test_retier_celery import REDIS_URL, _start_worker, _stopped_at_the_end
from tiering.models import CustomerMetrics, RetierRun, TaskDelivery
from tiering.runs import RETIER_LOCK_KEY, reap_interrupted
from tiering.services import retier_all

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),  # the worker must see committed rows
    pytest.mark.usefixtures("restore_migrated_data", "empty_broker"),
]

AS_OF = dt.date(2026, 11, 22)
VISIBILITY = "3"  # seconds before the broker hands an unacknowledged task to another worker
FAST = {"CELERY_VISIBILITY_TIMEOUT": VISIBILITY, "RETIER_HEARTBEAT_SECONDS": "1"}


@pytest.fixture
def empty_broker():
    redis.Redis.from_url(REDIS_URL).flushdb()  # this test's own Redis db: no message left by another test
    yield
    redis.Redis.from_url(REDIS_URL).flushdb()
    celery_app.set_current()  # the Celery(broker=...) made here became the current app: give it back


@pytest.fixture
def placed():
    """Two customers placed by a first run (tier 1 each); then one earns tier 2 and one tier 3."""
    publish_rules()
    climber, star = CustomerFactory(), CustomerFactory()
    retier_all(as_of=AS_OF)
    buy(climber, at("2026-11-01"))
    buy(climber, at("2026-11-02"))
    buy(star, at("2026-11-03"), amount="5000.00")
    return {"before": tiers(), "after": {climber.pk: 2, star.pk: 3}}


def send_retier() -> str:
    task = Celery(broker=REDIS_URL).send_task(
        "tiering.tasks.retier_task", kwargs={"as_of": AS_OF.isoformat(), "triggered_by": "nightly"}
    )
    return task.id


@contextmanager
def runs_held_mid_way():
    """Runs wait at their first write to the metrics stage while the block lasts."""
    with other_connection() as holder, holder.transaction():
        holder.execute("LOCK TABLE tiering_metricsstage IN ACCESS SHARE MODE")
        yield


def wait_for(condition, *, timeout: float, what: str, worker=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if worker is not None and worker.poll() is not None:
            pytest.fail(f"the worker exited while waiting for {what}: {worker.stdout.read()[-3000:]}")
        time.sleep(0.3)
    pytest.fail(f"no {what} within {timeout} s")


def running_run_of(task_id: str, *, other_than=()):
    return RetierRun.objects.filter(task_id=task_id, status=RetierRun.Status.RUNNING).exclude(pk__in=other_than).first()


def kill_mid_run(task_id: str | None, *, other_than=()) -> RetierRun:
    """Start a worker, let it take the task (None: a new re-tier task) into a run, and kill the
    whole worker (SIGKILL)."""
    worker = _start_worker("--pool=solo", **FAST)  # empties the queue: a task is sent after
    try:
        task_id = task_id or send_retier()
        run = wait_for(lambda: running_run_of(task_id, other_than=other_than), timeout=60, what="run", worker=worker)
        time.sleep(1.5)  # well inside the run: it has beaten, and waits at the stage
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    return run


def re_tier_lock_free() -> bool:
    """The killed worker's database session has ended (the server noticed its client is gone)."""
    with other_connection() as probe:
        taken = probe.execute("SELECT pg_try_advisory_lock(%s)", [RETIER_LOCK_KEY]).fetchone()[0]
        if taken:
            probe.execute("SELECT pg_advisory_unlock(%s)", [RETIER_LOCK_KEY])
        return taken


def metrics_snapshot() -> dict:
    rows = CustomerMetrics.objects.order_by("customer_id").values()
    return {row["customer_id"]: {k: v for k, v in row.items() if k != "tier_since"} for row in rows}


def test_a_worker_killed_mid_run_applies_nothing_the_run_reads_interrupted_and_the_rerun_equals_a_clean_run(
    placed, make_user, mailoutbox
):
    make_user("Admin", email="ops@example.com")
    with runs_held_mid_way():
        killed = kill_mid_run(None)
        task_id = killed.task_id
        assert tiers() == placed["before"]  # nothing half-applied
    wait_for(re_tier_lock_free, timeout=30, what="release of the dead run's lock")

    reap_interrupted()  # what beat does every minute

    killed.refresh_from_db()
    assert killed.status == RetierRun.Status.INTERRUPTED
    assert [m.subject for m in mailoutbox] == [f"Re-tier run #{killed.pk} was interrupted"]
    assert tiers() == placed["before"]

    worker = _start_worker("--pool=solo", **FAST)  # the broker hands the task over again
    with _closing(worker):
        rerun = wait_for(
            lambda: RetierRun.objects.filter(task_id=task_id, status=RetierRun.Status.SUCCEEDED).first(),
            timeout=60,
            what="rerun",
            worker=worker,
        )
    assert tiers() == placed["after"]
    after_rerun = metrics_snapshot()
    CustomerMetrics.objects.all().delete()
    clean = retier_all(as_of=AS_OF)  # everyone computed afresh
    assert clean.status == RetierRun.Status.SUCCEEDED and rerun.as_of == clean.as_of
    assert metrics_snapshot() == after_rerun


def test_a_task_that_kills_its_worker_every_time_is_given_up_after_three_deliveries(placed, settings):
    killed = []
    with runs_held_mid_way():
        for _ in range(settings.RETIER_MAX_DELIVERIES):
            killed.append(kill_mid_run(killed[0].task_id if killed else None, other_than=[r.pk for r in killed]))
            wait_for(re_tier_lock_free, timeout=30, what="release of the dead run's lock")

        task_id = killed[0].task_id
        worker = _start_worker("--pool=solo", **FAST)
        with _closing(worker):
            failed = wait_for(
                lambda: RetierRun.objects.filter(task_id=task_id, status=RetierRun.Status.FAILED).first(),
                timeout=60,
                what="failed run",
                worker=worker,
            )

    assert failed.pk == killed[-1].pk
    assert failed.error.startswith("Given up after 3 attempts: the worker died during each")
    assert TaskDelivery.objects.get(pk=task_id).deliveries == 4
    assert RetierRun.objects.filter(task_id=task_id).count() == 3  # the fourth delivery ran nothing
    assert tiers() == placed["before"]


def test_a_run_longer_than_the_visibility_timeout_runs_once(placed):
    worker = _start_worker("--pool=prefork", "--concurrency=2", **FAST)
    with _closing(worker):
        task_id = send_retier()
        with runs_held_mid_way():
            wait_for(lambda: running_run_of(task_id), timeout=60, what="run", worker=worker)
            # the broker hands the task to the second worker process meanwhile
            wait_for(
                lambda: TaskDelivery.objects.filter(pk=task_id, deliveries__gte=2).exists(),
                timeout=60,
                what="second delivery",
                worker=worker,
            )
        run = wait_for(
            lambda: RetierRun.objects.exclude(status=RetierRun.Status.RUNNING).filter(task_id=task_id).first(),
            timeout=60,
            what="finished run",
            worker=worker,
        )

    assert run.status == RetierRun.Status.SUCCEEDED
    assert RetierRun.objects.count() == 2  # the first placement and this one: the copy recorded nothing
    assert tiers() == placed["after"]


def test_two_beats_triggering_the_nightly_run_at_once_make_one_run(placed):
    worker = _start_worker("--pool=prefork", "--concurrency=2", **FAST)
    app = Celery(broker=REDIS_URL, backend=REDIS_URL)
    with _closing(worker):
        first, second = (app.send_task("tiering.tasks.nightly_retier") for _ in range(2))
        run_ids = {first.get(timeout=90), second.get(timeout=90)}

    nightly = RetierRun.objects.exclude(pk__in=RetierRun.objects.filter(as_of=AS_OF).values("pk"))
    applied = nightly.filter(status=RetierRun.Status.SUCCEEDED)
    assert applied.count() == 1 and applied.get().pk in run_ids
    assert set(nightly.exclude(pk=applied.get().pk).values_list("status", flat=True)) <= {RetierRun.Status.SKIPPED}
    assert tiers() == placed["after"]


def test_a_re_tier_queued_in_a_transaction_that_rolls_back_sees_none_of_its_rows(placed):
    """ "Run re-tier now" publishes at once (tiering.views): the task carries no row, so a worker
    re-tiers committed data only, whatever happens to the transaction around the click."""
    worker = _start_worker("--pool=solo", **FAST)
    with _closing(worker):
        with pytest.raises(RuntimeError), transaction.atomic():
            ghost = CustomerFactory()
            buy(ghost, at("2026-11-01"), amount="9000.00")
            task_id = send_retier()
            run = wait_for(  # the worker runs while the transaction is still open
                lambda: RetierRun.objects.filter(task_id=task_id, status=RetierRun.Status.SUCCEEDED).first(),
                timeout=60,
                what="run",
                worker=worker,
            )
            raise RuntimeError("the transaction around the click rolls back")

    assert run.counts == {"2": 1, "3": 1} and tiers() == placed["after"]  # no trace of the ghost


@contextmanager
def _closing(worker):
    closing = _stopped_at_the_end(worker)
    next(closing)
    try:
        yield worker
    finally:
        next(closing, None)
