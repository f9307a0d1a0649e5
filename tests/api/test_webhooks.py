"""Webhooks against a real HTTP receiver on 127.0.0.1 (api.receiver, which verifies every signature):
a night's tier changes go out after the run commits, in signed batches; lapses and closed follow-ups
too; failures are retried with back-off, a delivery is given up after its attempts, and an endpoint
that keeps failing is paused, its deliveries held, the admins told; resuming sends what was held."""

import datetime as dt
import json

import pytest
import time_machine
from django.core import mail

from api import webhooks
from api.models import WebhookDelivery, WebhookEndpoint
from api.receiver import Receiver
from api.tasks import deliver_webhook_task
from churn.models import FollowUp
from churn.services import change_follow_up_status
from tests.churn.factories import FollowUpFactory
from tests.factories import CustomerFactory, UserFactory
from tests.tiering.retier_helpers import at, buy, publish_rules
from tiering.models import TierChange
from tiering.services import retier_all

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_batches(settings):
    settings.WEBHOOK_BATCH_SIZE = 2
    settings.RETIER_FOLLOW_UP_TASKS = False  # churn risk training is not what these tests are about


@pytest.fixture
def receiver():
    """A receiver for one endpoint; `receiver.answers` scripts its status codes."""
    holder = {}
    with Receiver(secret_for=lambda: holder["endpoint"].secret) as running:
        running.register = lambda *events: holder.setdefault(
            "endpoint", WebhookEndpoint.objects.create(url=running.url, events=list(events), secret="whsec_t")
        )
        yield running


def nightly(as_of: dt.date, capture):
    with time_machine.travel(dt.datetime.combine(as_of, dt.time(2), tzinfo=dt.UTC), tick=False):
        with capture(execute=True):
            return retier_all(as_of=as_of)


def bodies(receiver) -> list[dict]:
    return [json.loads(r["body"]) for r in receiver.requests if r["status"] == 200]


def test_a_nights_tier_changes_go_out_after_commit_in_signed_batches(receiver, django_capture_on_commit_callbacks):
    receiver.register("tier.changed")
    publish_rules(lifetime_revenue="1000")
    for amount in ("5000.00", "100.00", "100.00", "5000.00", "100.00"):
        buy(CustomerFactory(), at("2026-11-01"), amount=amount)
    run = nightly(dt.date(2026, 11, 20), django_capture_on_commit_callbacks)

    assert receiver.count == 3 and receiver.verified == 3  # 5 changes, 2 a batch
    sent = bodies(receiver)
    assert {b["event"] for b in sent} == {"tier.changed"}
    assert sorted(b["batch"]["index"] for b in sent) == [0, 1, 2] and {b["batch"]["count"] for b in sent} == {3}
    assert {b["run"]["id"] for b in sent} == {run.pk}
    changes = [change for body in sent for change in body["data"]]
    assert sorted(c["id"] for c in changes) == sorted(TierChange.objects.filter(run=run).values_list("id", flat=True))
    assert all({"external_id", "from_tier", "to_tier", "why"} <= set(c) for c in changes)
    assert receiver.requests[0]["headers"]["Tierboard-Event"] == "tier.changed"
    logged = WebhookDelivery.objects.all()
    assert {(d.status, d.response_status, d.attempts) for d in logged} == {("succeeded", 200, 1)}


def test_nothing_is_sent_while_the_run_has_not_committed(receiver, django_capture_on_commit_callbacks):
    receiver.register("tier.changed")
    publish_rules()
    buy(CustomerFactory(), at("2026-11-01"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        retier_all(as_of=dt.date(2026, 11, 20))
    assert receiver.count == 0 and not WebhookDelivery.objects.exists()
    assert callbacks  # queued for after the commit


def test_lapses_found_by_a_run_are_sent(receiver, django_capture_on_commit_callbacks):
    receiver.register("lapse.detected")
    publish_rules(lifetime_revenue="1000")
    star = CustomerFactory()
    buy(star, at("2026-03-01"), amount="5000.00")
    nightly(dt.date(2026, 3, 5), django_capture_on_commit_callbacks)
    nightly(dt.date(2027, 4, 1), django_capture_on_commit_callbacks)
    [lapse] = [item for body in bodies(receiver) for item in body["data"]]
    assert (lapse["external_id"], lapse["tier_while_active"], lapse["response"]) == (star.external_id, 3, "Investigate")


def test_a_follow_up_closed_by_a_person_is_sent(receiver, django_capture_on_commit_callbacks):
    receiver.register("followup.closed")
    item = FollowUpFactory(assignee=None)
    admin = UserFactory(role="Admin")
    with django_capture_on_commit_callbacks(execute=True):
        change_follow_up_status(
            follow_up_id=item.pk,
            user=admin,
            version=item.version,
            to_status="dismissed",
            dismiss_reason="other",
            dismiss_text="test",
        )
    [sent] = bodies(receiver)
    assert sent["event"] == "followup.closed"
    assert [(f["id"], f["status"]) for f in sent["data"]] == [(item.pk, "dismissed")]


def test_a_failed_attempt_is_retried_with_doubling_back_off(receiver, settings):
    settings.WEBHOOK_RETRY_SECONDS = 30
    endpoint = receiver.register("followup.closed")
    receiver.answers = [500, 503]
    [delivery_id] = webhooks.queue_follow_up_closed(follow_up_id=FollowUpFactory().pk)
    first = webhooks.attempt_delivery(delivery_id=delivery_id)
    second = webhooks.attempt_delivery(delivery_id=delivery_id)
    third = webhooks.attempt_delivery(delivery_id=delivery_id)
    assert (first.retry_in, second.retry_in, third.delivered) == (30, 60, True)
    delivery = WebhookDelivery.objects.get()
    assert [a.response_status for a in delivery.attempt_log.all()] == [500, 503, 200]
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0


def test_celery_retries_a_delivery_until_the_receiver_takes_it(receiver):
    receiver.register("followup.closed")
    receiver.answers = [500, 502, 500]
    [delivery_id] = webhooks.queue_follow_up_closed(follow_up_id=FollowUpFactory().pk)
    deliver_webhook_task.apply(args=[delivery_id])  # retries run at once in-process; countdowns with a broker
    assert receiver.count == 4
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_a_delivery_is_given_up_after_its_attempts(receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.register("followup.closed")
    receiver.answers = [500] * 10
    [delivery_id] = webhooks.queue_follow_up_closed(follow_up_id=FollowUpFactory().pk)
    deliver_webhook_task.apply(args=[delivery_id])
    delivery = WebhookDelivery.objects.get()
    assert (receiver.count, delivery.status, delivery.attempts, delivery.response_status) == (3, "failed", 3, 500)


def test_an_endpoint_that_keeps_failing_is_paused_its_deliveries_held_and_the_admins_told(receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 10
    settings.WEBHOOK_PAUSE_AFTER = 3
    UserFactory(role="Admin", email="boss@example.com")
    endpoint = receiver.register("followup.closed")
    receiver.answers = [500] * 10
    ids = webhooks.queue_follow_up_closed(follow_up_id=FollowUpFactory().pk)
    ids += webhooks.queue_follow_up_closed(follow_up_id=FollowUpFactory().pk)
    for delivery_id in ids:
        deliver_webhook_task.apply(args=[delivery_id])

    assert receiver.count == 3  # nothing more once paused
    endpoint.refresh_from_db()
    assert endpoint.is_paused and "3 failed attempts" in endpoint.paused_reason
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"held"}
    [notice] = mail.outbox
    assert notice.to == ["boss@example.com"] and receiver.url in notice.subject

    receiver.answers = []
    for delivery_id in webhooks.resume(endpoint_id=endpoint.pk):
        deliver_webhook_task.apply(args=[delivery_id])
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"succeeded"}


def test_a_paused_endpoint_gets_the_nights_batches_held_not_lost(receiver, django_capture_on_commit_callbacks):
    endpoint = receiver.register("tier.changed")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(paused_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    publish_rules()
    buy(CustomerFactory(), at("2026-11-01"))
    nightly(dt.date(2026, 11, 20), django_capture_on_commit_callbacks)
    assert receiver.count == 0
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["held"]


def test_a_captured_delivery_replayed_later_is_refused_by_the_receiver(receiver):
    receiver.register("followup.closed")
    [delivery_id] = webhooks.queue_follow_up_closed(follow_up_id=FollowUpFactory().pk)
    webhooks.attempt_delivery(delivery_id=delivery_id)
    captured = receiver.requests[0]
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)):
        assert receiver.receive(captured["headers"], captured["body"]) == 401
    assert "replay" in receiver.requests[-1]["refused"]


def test_an_unreachable_endpoint_is_logged_with_the_error(settings):
    endpoint = WebhookEndpoint.objects.create(url="http://127.0.0.1:1/hooks", events=["followup.closed"], secret="s")
    [delivery_id] = webhooks.queue_follow_up_closed(follow_up_id=FollowUpFactory().pk)
    outcome = webhooks.attempt_delivery(delivery_id=delivery_id)
    delivery = WebhookDelivery.objects.get()
    assert outcome.retry_in and delivery.response_status is None and "refused" in delivery.error.lower()
    assert FollowUp.objects.exists() and endpoint.deliveries.count() == 1
