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
from tests.tiering.retier_helpers import at, buy, publish_rules, restore_migrated_data, tiers  # noqa: F401
from tiering.models import RetierRun

REDIS_URL = os.environ.get("RETIER_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),  # the worker must see committed rows
    pytest.mark.usefixtures("restore_migrated_data"),
]


@pytest.fixture
def worker():
    s = connection.settings_dict
    env = {
        **os.environ, "REDIS_URL": REDIS_URL, "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}",
    }  # fmt: skip
    Celery(broker=REDIS_URL).connection_for_write().default_channel.queue_purge("celery")  # no stale messages
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
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

    assert (run.status, run.triggered_by, run.as_of) == (RetierRun.Status.SUCCEEDED, "celery test", dt.date(2026, 11, 22))
    assert tiers() == {regular.pk: 2}


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
