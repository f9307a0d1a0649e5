"""Uploads imported by a real Celery worker on the real Redis, against the test database: the job
page follows the import to its report, and a worker killed mid-import leaves nothing imported, its
job shown as interrupted, and the same file uploaded again imports everything."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from config.celery import app
from customers.imports import IMPORT_LOCK_ID
from customers.models import ImportJob, Order, OrderLine
from tests.customers.test_import_killed import orders_file
from tests.factories import CustomerFactory, ProductFactory

REDIS_URL = os.environ.get("RETIER_TEST_REDIS_URL", "redis://127.0.0.1:6379/10")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),  # the worker must see committed rows
    pytest.mark.usefixtures("restore_migrated_data"),
]


@pytest.fixture
def queued_on_redis(import_dir):
    """The page queues its task on Redis instead of running it eagerly; the worker shares IMPORT_DIR."""
    saved = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url, app.conf.task_always_eager = REDIS_URL, False
    Celery(broker=REDIS_URL).connection_for_write().default_channel.queue_purge("celery")  # no stale messages
    yield
    app.conf.broker_url, app.conf.task_always_eager = saved
    app.pool.force_close_all()
    app._pool = app.amqp._producer_pool = None  # later tests get connections to their own broker


def start_worker(import_dir: Path) -> subprocess.Popen:
    s = connection.settings_dict
    env = {
        **os.environ, "REDIS_URL": REDIS_URL, "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}",
        "TEST_IMPORT_DIR": str(import_dir),
    }  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


@pytest.fixture
def workers(import_dir):
    started = []
    yield lambda: started.append(start_worker(import_dir)) or started[-1]
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def catalogue():
    CustomerFactory(external_id="C1")
    ProductFactory(sku="A1")


def upload(client, path: Path) -> ImportJob:
    response = client.post(reverse("customers:import"), {"kind": "orders", "file": SimpleUploadedFile("orders.csv", path.read_bytes())})  # fmt: skip
    assert response.status_code == 302
    return ImportJob.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))


def test_a_worker_imports_an_uploaded_file_and_its_page_shows_the_report(
    client, make_user, catalogue, queued_on_redis, workers, import_dir, tmp_path
):
    client.force_login(make_user("Admin"))
    job = upload(client, orders_file(tmp_path / "orders.csv", 1_000))
    worker = workers()

    job = _wait(job, lambda job: job.is_over, worker=worker, timeout=90)

    assert job.status == "succeeded", job.message
    page = client.get(reverse("customers:import_job", args=[job.pk])).content.decode()
    assert "Imported 1,000 rows of orders" in page
    assert OrderLine.objects.count() == 1_000
    assert list(import_dir.iterdir()) == []


def test_a_worker_killed_mid_import_leaves_nothing_and_the_file_uploaded_again_imports_everything(
    client, make_user, catalogue, queued_on_redis, workers, import_dir, tmp_path, monkeypatch
):
    client.force_login(make_user("Admin"))
    path = orders_file(tmp_path / "orders.csv", 200_000)
    job = upload(client, path)
    worker = workers()

    # Killed once its heartbeat has shown the import going (a 200,000-line import takes about 15 s here).
    job = _wait(
        job, lambda job: job.status == "running" and job.heartbeat_at > job.started_at, worker=worker, timeout=120
    )
    assert job.status == "running" and job.step in ("reading rows", "checking", "writing")
    progress = client.get(reverse("customers:import_job_progress", args=[job.pk])).content.decode()
    assert job.step.capitalize() in progress and "of the file read" in progress
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)

    monkeypatch.setattr("customers.import_jobs.STALE_AFTER", dt.timedelta(seconds=4))  # instead of 90
    time.sleep(4.5)
    page = client.get(reverse("customers:import_job", args=[job.pk])).content.decode()
    assert "Interrupted: nothing imported" in page
    _wait_until_the_import_lock_is_free()
    assert not Order.objects.exists() and not OrderLine.objects.exists()
    assert list(import_dir.iterdir()) == []

    again = upload(client, path)
    again = _wait(again, lambda job: job.is_over, worker=workers(), timeout=300)
    assert again.status == "succeeded", again.message
    assert (Order.objects.count(), OrderLine.objects.count()) == (200_000, 200_000)


def _wait(job: ImportJob, done, *, worker: subprocess.Popen, timeout: float) -> ImportJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if done(job):
            return job
        if worker.poll() is not None:
            pytest.fail(f"the worker exited: {worker.stdout.read()}")
        time.sleep(0.25)
    pytest.fail(f"job {job.pk} still {job.status} after {timeout} s")


def _wait_until_the_import_lock_is_free(timeout: float = 30) -> None:
    """PostgreSQL rolls back the killed worker's transaction, and frees the lock every import holds,
    when it notices the closed connection."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = %s"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                [IMPORT_LOCK_ID],
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.1)
    pytest.fail("the killed worker's import still holds its lock")
