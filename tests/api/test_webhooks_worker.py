"""A real Celery worker on the real Redis delivers a webhook to a receiver thread in this process,
retrying failed attempts after the back-off (1 s, then 2 s here), as production does."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection

from api import webhooks
from api.models import WebhookDelivery, WebhookEndpoint
from api.receiver import Receiver
from api.tasks import deliver_webhook_task
from config.celery import app
from tests.churn.factories import FollowUpFactory

REDIS_URL = os.environ.get("RETIER_TEST_REDIS_URL", "redis://127.0.0.1:6379/10")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),  # the worker must see committed rows
    pytest.mark.usefixtures("restore_migrated_data"),
]


@pytest.fixture
def worker():
    saved = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url, app.conf.task_always_eager = REDIS_URL, False
    Celery(broker=REDIS_URL).connection_for_write().default_channel.queue_purge("celery")  # no stale messages
    s = connection.settings_dict
    env = {
        **os.environ, "REDIS_URL": REDIS_URL, "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}",
        "WEBHOOK_RETRY_SECONDS": "1",
    }  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    app.conf.broker_url, app.conf.task_always_eager = saved
    app.pool.force_close_all()
    app._pool = app.amqp._producer_pool = None  # later tests get connections to their own broker


def test_a_worker_retries_with_doubling_back_off_until_the_receiver_takes_it(worker):
    holder = {}
    with Receiver(secret_for=lambda: holder["endpoint"].secret, answers=[500, 503]) as receiver:
        holder["endpoint"] = WebhookEndpoint.objects.create(url=receiver.url, events=["followup.closed"], secret="s1")
        [delivery_id] = webhooks.queue_follow_up_closed(follow_up_id=FollowUpFactory().pk)
        deliver_webhook_task.delay(delivery_id)
        deadline = time.monotonic() + 90
        while WebhookDelivery.objects.get().status != "succeeded":
            assert worker.poll() is None, worker.stdout.read()
            assert time.monotonic() < deadline, "the delivery did not succeed in time"
            time.sleep(0.3)
    arrivals = [request["at"] for request in receiver.requests]
    assert [request["status"] for request in receiver.requests] == [500, 503, 200]
    assert arrivals[1] - arrivals[0] >= 0.9 and arrivals[2] - arrivals[1] >= 1.9  # 1 s, then 2 s
    assert WebhookDelivery.objects.get().attempts == 3
