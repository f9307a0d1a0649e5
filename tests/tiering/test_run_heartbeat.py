"""A run whose process died is seen within a minute, shown as interrupted everywhere, and the
admins are told by email (tiering.runs)."""

import datetime as dt
import time

import pytest
from django.db.models.signals import post_save
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from tests.factories import CustomerFactory
from tests.tiering.retier_helpers import (  # noqa: F401
    at,
    buy,
    other_connection,
    publish_rules,
    tiers,
)
from tiering.models import RetierRun
from tiering.runs import RETIER_LOCK_KEY, reap_interrupted
from tiering.services import retier_all
from tiering.signals import retier_applied
from tiering.tasks import reap_interrupted_runs

pytestmark = pytest.mark.django_db


def running_run(*, silent_for: int | None, **fields) -> RetierRun:
    """A run recorded as running whose last heartbeat was `silent_for` seconds ago."""
    run = RetierRun.objects.create(as_of=dt.date(2026, 11, 22), triggered_by="nightly", **fields)
    if silent_for is not None:
        beat = timezone.now() - dt.timedelta(seconds=silent_for)
        RetierRun.objects.filter(pk=run.pk).update(heartbeat_at=beat, started_at=beat)
    return run


@pytest.fixture
def lock_held():
    """The re-tier lock held by another session, as a live (or hung) worker would hold it."""
    with other_connection() as worker:
        worker.execute("SELECT pg_advisory_lock(%s)", [RETIER_LOCK_KEY])
        yield
        worker.execute("SELECT pg_advisory_unlock(%s)", [RETIER_LOCK_KEY])


@pytest.fixture
def admin_with_email(make_user):
    return make_user("Admin", email="ops@example.com")


def test_a_run_silent_for_longer_than_the_timeout_is_interrupted_and_the_admins_are_emailed(
    lock_held, admin_with_email, mailoutbox, settings
):
    run = running_run(silent_for=settings.RETIER_HEARTBEAT_TIMEOUT + 5)
    running_run(silent_for=2)  # the lock's holder, recorded after it

    reap_interrupted()

    run.refresh_from_db()
    assert run.status == RetierRun.Status.INTERRUPTED and run.finished_at is not None
    assert "worker died or was killed" in run.error
    assert [m.to for m in mailoutbox] == [["ops@example.com"]]
    assert f"Re-tier run #{run.pk} was interrupted" == mailoutbox[0].subject
    assert "every customer kept their tier" in mailoutbox[0].body


def test_the_run_holding_the_lock_is_left_running_however_long_its_heartbeat_is_silent(
    lock_held, admin_with_email, mailoutbox, settings
):
    run = running_run(silent_for=settings.RETIER_HEARTBEAT_TIMEOUT + 5)

    reap_interrupted()

    run.refresh_from_db()
    assert run.status == RetierRun.Status.RUNNING and mailoutbox == []


def test_a_run_that_beats_is_left_running(lock_held, admin_with_email, mailoutbox):
    run = running_run(silent_for=2)

    reap_interrupted()

    run.refresh_from_db()
    assert run.status == RetierRun.Status.RUNNING and mailoutbox == []


def test_a_dead_run_is_reported_once_however_many_checks_see_it(admin_with_email, mailoutbox):
    running_run(silent_for=None)

    reap_interrupted()
    reap_interrupted()
    reap_interrupted_runs()

    assert len(mailoutbox) == 1


def test_beat_checks_the_runs_every_minute():
    check = PeriodicTask.objects.get(task="tiering.tasks.reap_interrupted_runs")

    assert check.enabled and (check.interval.every, check.interval.period) == (1, "minutes")


def test_the_runs_page_and_the_overview_show_a_dead_run_as_interrupted(client, make_user):
    client.force_login(make_user("Admin"))
    running_run(silent_for=None)

    overview = client.get(reverse("home")).content.decode()
    runs_page = client.get(reverse("tiering:runs")).content.decode()

    assert 'Last run: <span class="status status-interrupted">Interrupted</span>' in overview
    assert "The last run was interrupted: worker died or was killed" in overview
    assert "status-interrupted" in runs_page and ">Interrupted<" in runs_page


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("restore_migrated_data")
def test_the_heartbeat_is_seen_by_others_while_the_runs_transaction_is_open(settings):
    settings.RETIER_HEARTBEAT_SECONDS = 1
    publish_rules()
    buy(CustomerFactory(), at("2026-11-01"))
    seen = {}

    def look_from_another_session(sender, *, applied, **kwargs):
        # inside the run's apply transaction: its own writes are not visible elsewhere yet
        with other_connection() as reader:
            first = reader.execute(
                "SELECT heartbeat_at FROM tiering_retierrun WHERE id = %s", [applied.run_id]
            ).fetchone()[0]
            time.sleep(2.5)
            later = reader.execute("SELECT heartbeat_at, status FROM tiering_retierrun WHERE id = %s", [applied.run_id])
            seen.update(first=first, later=later.fetchone())

    retier_applied.connect(look_from_another_session, dispatch_uid="heartbeat-test")
    try:
        run = retier_all(as_of=dt.date(2026, 11, 22))
    finally:
        retier_applied.disconnect(dispatch_uid="heartbeat-test")

    assert run.status == RetierRun.Status.SUCCEEDED
    beat, status = seen["later"]
    assert status == "running" and beat > seen["first"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("restore_migrated_data")
def test_a_run_declared_interrupted_while_it_went_on_applies_nothing_and_stays_interrupted():
    publish_rules()
    buy(CustomerFactory(), at("2026-11-01"))

    def declared_dead_meanwhile(sender, *, applied, **kwargs):  # inside the run's apply transaction
        with other_connection() as reaper:
            reaper.execute("UPDATE tiering_retierrun SET status = 'interrupted' WHERE id = %s", [applied.run_id])

    retier_applied.connect(declared_dead_meanwhile, dispatch_uid="declared-dead-test")
    try:
        run = retier_all(as_of=dt.date(2026, 11, 22))
    finally:
        retier_applied.disconnect(dispatch_uid="declared-dead-test")

    assert RetierRun.objects.get(pk=run.pk).status == RetierRun.Status.INTERRUPTED
    assert tiers() == {}  # as the admins were told: every customer kept their tier


def test_a_skipped_run_is_recorded_as_over_at_once_never_as_running(lock_held):
    recorded = []

    def on_record(sender, *, instance, created, **kwargs):
        if created:
            recorded.append(instance.status)

    post_save.connect(on_record, sender=RetierRun, dispatch_uid="skipped-run-test")
    try:
        run = retier_all(as_of=dt.date(2026, 11, 22))
    finally:
        post_save.disconnect(sender=RetierRun, dispatch_uid="skipped-run-test")

    assert recorded == [RetierRun.Status.SKIPPED]  # a reaper in between has no running run to report
    run.refresh_from_db()
    assert run.status == RetierRun.Status.SKIPPED and run.finished_at is not None
