"""The admin's side of the history backfill: the list of backfills, "Replay tier history now", and a
backfill whose process died shown as interrupted."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import CustomerFactory
from tests.tiering.retier_helpers import at, buy, publish_rules
from tiering.models import TierBackfill, TierChange
from tiering.tasks import reap_interrupted_runs

pytestmark = pytest.mark.django_db


def test_an_admin_replays_the_history_from_the_backfills_list_and_sees_what_it_wrote(client, make_user):
    client.force_login(make_user("Admin", is_staff=True))
    publish_rules()
    customer = CustomerFactory()
    buy(customer, at("2026-09-10"), amount="2000.00")

    page = client.get(reverse("admin:tiering_tierbackfill_changelist")).content.decode()
    assert "Replay tier history now" in page

    response = client.post(reverse("admin:tiering_tierbackfill_start"), follow=True)  # eager Celery in tests

    assert "Backfill queued" in response.content.decode()
    record = TierBackfill.objects.get()
    assert (record.status, record.triggered_by) == ("succeeded", response.wsgi_request.user.username)
    assert TierChange.objects.filter(customer=customer, backfilled=True).exists()
    assert "Succeeded" in response.content.decode().split("result_list")[1]


def test_the_button_needs_the_re_tier_permission_and_a_post(client, make_user):
    client.force_login(make_user("Marketing", is_staff=True))
    assert client.post(reverse("admin:tiering_tierbackfill_start")).status_code in (302, 403)
    assert not TierBackfill.objects.exists()
    client.force_login(make_user("Admin", is_staff=True))
    assert client.get(reverse("admin:tiering_tierbackfill_start")).status_code == 405


def test_the_button_with_the_queue_down_says_so_and_starts_nothing(client, make_user, broker_down):
    client.force_login(make_user("Admin", is_staff=True))
    response = client.post(reverse("admin:tiering_tierbackfill_start"), follow=True)
    assert "The task queue (Redis) cannot be reached" in response.content.decode()
    assert not TierBackfill.objects.exists()


def test_a_backfill_left_running_by_a_dead_process_is_shown_as_interrupted():
    started = timezone.now() - dt.timedelta(minutes=5)
    dead = TierBackfill.objects.create(heartbeat_at=started)  # nobody holds the re-tier lock

    reap_interrupted_runs()  # beat's check every minute

    dead.refresh_from_db()
    assert dead.status == TierBackfill.Status.INTERRUPTED and "earlier history stands" in dead.error
