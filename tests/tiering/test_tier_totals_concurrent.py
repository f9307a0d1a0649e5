"""Two sessions writing the metrics of the same tier at once: the trigger's upsert makes the second
wait on the tier's row and add its deltas to what the first committed, so neither is lost."""

import threading
import time
from decimal import Decimal

import pytest

from tests.factories import CustomerMetricsFactory
from tests.tiering.retier_helpers import other_connection
from tests.tiering.test_tier_totals import kept_by_the_trigger, summed_now

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),  # the other sessions see committed rows
    pytest.mark.usefixtures("restore_migrated_data"),
]


def test_two_sessions_writing_the_same_tier_at_once_both_land_in_its_sums():
    """The second writer's upsert waits on the tier's row and adds to what the first committed."""
    a, b = CustomerMetricsFactory(tier=1, revenue=Decimal("10.00")), CustomerMetricsFactory(tier=3, revenue=0)
    first, second = other_connection(), other_connection()
    move = "UPDATE tiering_customermetrics SET tier = 2, revenue = revenue + %s WHERE customer_id = %s"
    try:
        with first.transaction():
            first.execute(move, [Decimal("1.11"), a.pk])
            waiting = threading.Thread(target=lambda: second.execute(move, [Decimal("2.22"), b.pk]))
            waiting.start()
            _wait_until_blocked(pid=second.info.backend_pid)
        waiting.join(timeout=10)
    finally:
        first.close()
        second.close()

    assert kept_by_the_trigger() == summed_now()
    assert kept_by_the_trigger()[2] == (2, Decimal("13.33"), Decimal("-1190.00"))  # margins -590, -600


def _wait_until_blocked(*, pid: int) -> None:
    with other_connection() as watcher:
        for _ in range(200):
            state = watcher.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
            if state and state[0] == "Lock":
                return
            time.sleep(0.02)
    raise AssertionError("the second writer never waited for the first")
