"""A run that dies leaves everyone on their previous tier; only one run goes at a time.

These tests commit for real (transactional_db): the run's own transaction is what is on trial.
"""

import datetime as dt

import pytest
from django.db import connection

from tests.factories import CustomerFactory
from tests.tiering.retier_helpers import at, buy, other_connection, publish_rules, tiers
from tiering.models import CustomerMetrics, MetricsStage, RetierRun, TierChange
from tiering.runs import INTERRUPTED_ERROR
from tiering.services import RETIER_LOCK_KEY, retier_all
from tiering.signals import retier_applied

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),  # each test starts with the migrated data
    pytest.mark.usefixtures("restore_migrated_data"),  # and the module leaves it behind
]

AS_OF = dt.date(2026, 11, 22)


@pytest.fixture
def placed():
    """Two customers re-tiered once (tiers 1 and 1), then one earns tier 2 and one tier 3."""
    publish_rules()
    climber, star = CustomerFactory(), CustomerFactory()
    retier_all(as_of=AS_OF)
    buy(climber, at("2026-11-01"))
    buy(climber, at("2026-11-02"))
    buy(star, at("2026-11-03"), amount="5000.00")
    return {climber.pk: 1, star.pk: 1}


def test_a_run_that_fails_after_writing_tiers_leaves_everyone_on_their_previous_tier(placed):
    def fail_after_apply(**kwargs):
        assert sorted(tiers().values()) == [2, 3]  # the new tiers were written inside the run
        raise RuntimeError("disk full")

    retier_applied.connect(fail_after_apply)
    try:
        with pytest.raises(RuntimeError):
            retier_all(as_of=AS_OF + dt.timedelta(days=1))
    finally:
        retier_applied.disconnect(fail_after_apply)

    run = RetierRun.objects.latest("pk")
    assert (run.status, run.error) == (RetierRun.Status.FAILED, "RuntimeError: disk full")
    assert tiers() == placed
    assert not TierChange.objects.filter(run=run).exists()


def test_a_run_whose_database_connection_is_killed_mid_way_changes_nothing(placed):
    def kill_my_connection(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with other_connection() as killer:
            killer.execute("SELECT pg_terminate_backend(%s)", [pid])

    retier_applied.connect(kill_my_connection)
    try:
        with pytest.raises(Exception):  # noqa: B017 (any error: the connection is gone)
            retier_all(as_of=AS_OF + dt.timedelta(days=1))
    finally:
        retier_applied.disconnect(kill_my_connection)

    run = RetierRun.objects.latest("pk")
    assert run.status == RetierRun.Status.FAILED
    assert tiers() == placed
    assert not TierChange.objects.filter(run=run).exists()


def test_a_run_while_another_holds_the_lock_is_skipped_and_recorded(placed):
    with other_connection() as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [RETIER_LOCK_KEY])
        run = retier_all(as_of=AS_OF + dt.timedelta(days=1))

    assert run.status == RetierRun.Status.SKIPPED
    assert "Another re-tier run was going" in run.error
    assert tiers() == placed
    assert not MetricsStage.objects.exists()


def test_a_run_left_running_by_a_dead_worker_is_marked_interrupted_by_the_next_run(placed):
    dead = RetierRun.objects.create(as_of=AS_OF, status=RetierRun.Status.RUNNING)

    retier_all(as_of=AS_OF + dt.timedelta(days=1))

    dead.refresh_from_db()
    assert (dead.status, dead.error) == (RetierRun.Status.INTERRUPTED, INTERRUPTED_ERROR)
    assert sorted(tiers().values()) == [2, 3]


def test_a_committed_run_is_what_other_connections_see(placed):
    retier_all(as_of=AS_OF + dt.timedelta(days=1))

    with other_connection() as reader:
        seen = dict(reader.execute("SELECT customer_id, tier FROM tiering_customermetrics").fetchall())

    assert seen == tiers() and sorted(seen.values()) == [2, 3]
    assert CustomerMetrics.objects.count() == 2


def test_ranges_computed_side_by_side_on_their_own_connections_give_the_same_result(placed, settings):
    settings.RETIER_INCREMENTAL = False  # every customer, in ranges, although a run placed them already
    settings.RETIER_RANGE_SIZE, settings.RETIER_PARALLEL = 1, 2
    side_by_side = retier_all(as_of=AS_OF + dt.timedelta(days=1), dry_run=True)
    settings.RETIER_RANGE_SIZE, settings.RETIER_PARALLEL = 1_000_000, 1

    one = retier_all(as_of=AS_OF + dt.timedelta(days=1), dry_run=True)

    assert side_by_side.progress["total"] == 2 and one.progress["total"] == 1
    assert (
        (side_by_side.counts, side_by_side.matrix)
        == (one.counts, one.matrix)
        == ({"2": 1, "3": 1}, {"1->2": 1, "1->3": 1})
    )
