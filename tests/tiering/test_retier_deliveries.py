"""The re-tier task delivered more than once: after its worker died, while its run still goes
(longer than the broker's visibility timeout), after it finished; the same night run twice;
two nightly triggers (tiering.runs, tasks)."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import CustomerFactory
from tests.tiering.retier_helpers import at, buy, other_connection, publish_rules, tiers
from tiering.models import RetierRun, TaskDelivery, TierChange
from tiering.runs import RETIER_LOCK_KEY, count_delivery, run_delivered
from tiering.services import retier_all
from tiering.tasks import nightly_retier

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 22)


@pytest.fixture
def shop():
    publish_rules()
    regular, once = CustomerFactory(), CustomerFactory()
    buy(regular, at("2026-03-01"))
    buy(regular, at("2026-05-01"))
    buy(once, at("2026-04-01"))
    return {regular.pk: 2, once.pk: 1}


def deliver(task_id: str) -> RetierRun:
    """One delivery of re-tier task `task_id` to a worker."""
    start = lambda: retier_all(as_of=AS_OF, triggered_by="nightly")  # noqa: E731
    return RetierRun.objects.get(pk=run_delivered(task_id=task_id, as_of=AS_OF, triggered_by="nightly", start=start))


def killed_mid_run(task_id: str) -> RetierRun:
    """What a delivery whose worker was killed leaves: a run recorded as running, nobody on it."""
    count_delivery(task_id)
    return RetierRun.objects.create(as_of=AS_OF, triggered_by="nightly", task_id=task_id)


def test_a_task_whose_worker_died_runs_again_and_the_dead_run_reads_interrupted(shop):
    dead = killed_mid_run("t-1")

    run = deliver("t-1")

    dead.refresh_from_db()
    assert dead.status == RetierRun.Status.INTERRUPTED
    assert (run.status, run.task_id) == (RetierRun.Status.SUCCEEDED, "t-1")
    assert tiers() == shop


def test_a_task_that_killed_its_worker_three_times_is_given_up_with_the_reason(shop, settings):
    settings.RETIER_MAX_DELIVERIES = 3
    for _ in range(3):
        killed_mid_run("poison")

    run = deliver("poison")

    assert run.status == RetierRun.Status.FAILED
    assert run.error.startswith("Given up after 3 attempts: the worker died during each")
    assert RetierRun.objects.filter(task_id="poison", status=RetierRun.Status.INTERRUPTED).count() == 2
    assert tiers() == {}  # nothing was applied
    assert deliver("poison").pk == run.pk  # and a further delivery starts nothing


def test_a_task_delivered_again_while_its_run_still_goes_starts_nothing(shop):
    """A run longer than the broker's visibility timeout is handed to a second worker meanwhile."""
    going = killed_mid_run("long")
    RetierRun.objects.filter(pk=going.pk).update(heartbeat_at=timezone.now())
    with other_connection() as first_worker:
        first_worker.execute("SELECT pg_advisory_lock(%s)", [RETIER_LOCK_KEY])

        again = deliver("long")

    assert again.pk == going.pk
    assert list(RetierRun.objects.values_list("status", flat=True)) == [RetierRun.Status.RUNNING]


def test_a_task_delivered_again_after_it_finished_starts_nothing(shop):
    done = deliver("t-2")

    again = deliver("t-2")

    assert again.pk == done.pk and RetierRun.objects.count() == 1
    assert TaskDelivery.objects.get(pk="t-2").deliveries == 2


def test_the_same_night_run_twice_says_the_second_changed_nothing(shop, client, make_user):
    first = retier_all(as_of=AS_OF)
    history = TierChange.objects.count()

    second = retier_all(as_of=AS_OF)

    assert second.status == RetierRun.Status.SUCCEEDED and TierChange.objects.count() == history
    assert second.note.startswith(f"Changed nothing since run #{first.pk} of ")
    assert first.note == ""
    client.force_login(make_user("Admin"))
    assert second.note in client.get(reverse("tiering:runs")).content.decode()


def test_a_run_of_the_same_date_that_moved_someone_says_nothing_special(shop):
    retier_all(as_of=AS_OF)
    buy(CustomerFactory(), at("2026-04-01"))

    second = retier_all(as_of=AS_OF)

    assert second.matrix == {"new->1": 1} and second.note == ""


def test_a_second_nightly_trigger_for_the_same_night_starts_nothing(shop, settings):
    first = RetierRun.objects.get(pk=nightly_retier.apply().get())

    second = nightly_retier.apply().get()

    assert second == first.pk and RetierRun.objects.count() == 1
    assert first.as_of == timezone.localdate() and first.status == RetierRun.Status.SUCCEEDED


def test_the_minute_check_forgets_delivery_counts_of_tasks_a_week_old():
    from tiering.tasks import reap_interrupted_runs

    count_delivery("last-month")
    count_delivery("today")
    TaskDelivery.objects.filter(pk="last-month").update(last_delivered_at=timezone.now() - dt.timedelta(days=30))

    reap_interrupted_runs()

    assert list(TaskDelivery.objects.values_list("task_id", flat=True)) == ["today"]
