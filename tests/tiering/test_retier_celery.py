"""A real Celery worker on the real Redis runs the re-tier task against the test database."""

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection

from tests.factories import CustomerFactory
from tests.tiering.retier_helpers import at, buy, publish_rules, tiers
from tiering.models import RetierRun

REDIS_URL = os.environ.get("RETIER_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),  # the worker must see committed rows
    pytest.mark.usefixtures("restore_migrated_data"),
]


def _start_worker(*pool_args: str, loglevel: str = "WARNING", **extra_env: str) -> subprocess.Popen:
    s = connection.settings_dict
    env = {
        **os.environ, "REDIS_URL": REDIS_URL, "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}", **extra_env,
    }  # fmt: skip
    Celery(broker=REDIS_URL).connection_for_write().default_channel.queue_purge("celery")  # no stale messages
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", *pool_args, f"--loglevel={loglevel}",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


@pytest.fixture
def worker():
    yield from _stopped_at_the_end(_start_worker("--pool=solo"))


@pytest.fixture
def worker_pool():
    """Two worker processes: one coordinates the run, the other computes the ranges it hands out."""
    yield from _stopped_at_the_end(
        _start_worker(
            "--pool=prefork", "--concurrency=2", loglevel="INFO", RETIER_ON_WORKERS="true", RETIER_RANGE_SIZE="1"
        )
    )


def _stopped_at_the_end(proc: subprocess.Popen):
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_worker_on_redis_runs_the_retier_task_to_the_end(worker):
    publish_rules()
    regular = CustomerFactory()
    buy(regular, at("2026-03-01"))
    buy(regular, at("2026-05-01"))

    Celery(broker=REDIS_URL).send_task(
        "tiering.tasks.retier_task", kwargs={"as_of": "2026-11-22", "triggered_by": "celery test"}
    )
    run = _wait_for_finished_run(timeout=90, worker=worker)

    assert (run.status, run.triggered_by, run.as_of) == (
        RetierRun.Status.SUCCEEDED,
        "celery test",
        dt.date(2026, 11, 22),
    )
    assert tiers() == {regular.pk: 2}


def test_the_ranges_of_a_run_can_be_computed_by_other_workers(worker_pool):
    publish_rules()
    regular, once = CustomerFactory(), CustomerFactory()
    buy(regular, at("2026-03-01"))
    buy(regular, at("2026-05-01"))
    buy(once, at("2026-04-01"))

    Celery(broker=REDIS_URL).send_task("tiering.tasks.retier_task", kwargs={"as_of": "2026-11-22"})
    run = _wait_for_finished_run(timeout=120, worker=worker_pool)

    assert run.status == RetierRun.Status.SUCCEEDED, run.error
    assert tiers() == {regular.pk: 2, once.pk: 1}
    worker_pool.terminate()
    log = worker_pool.communicate(timeout=30)[0]
    # One range per customer id (RETIER_RANGE_SIZE=1), each computed as its own task.
    assert log.count("Task tiering.tasks.compute_range_task[") >= 2 * run.progress["total"], log[-3000:]


def _wait_for_finished_run(*, timeout: float, worker) -> RetierRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = RetierRun.objects.exclude(status=RetierRun.Status.RUNNING).first()
        if run:
            return run
        if worker.poll() is not None:
            pytest.fail(f"the worker exited: {worker.stdout.read()}")
        time.sleep(0.5)
    pytest.fail(f"no finished run within {timeout} s")
