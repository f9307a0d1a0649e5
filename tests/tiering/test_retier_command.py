"""`python manage.py retier [--as-of DATE] [--dry-run]`."""

import pytest
from django.core.management import CommandError, call_command

from tests.factories import CustomerFactory
from tests.tiering.retier_helpers import at, buy, other_connection, publish_rules
from tiering.models import CustomerMetrics, RetierRun
from tiering.services import RETIER_LOCK_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def regulars():
    publish_rules()
    for _ in range(2):
        c = CustomerFactory()
        buy(c, at("2026-03-01"))
        buy(c, at("2026-05-01"))
    CustomerFactory()


def retier(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("retier", *args, stdout=out)
    return out.getvalue()


def test_it_prints_customers_per_tier_movers_and_the_run(regulars):
    output = retier("--as-of", "2026-11-22")

    run = RetierRun.objects.get()
    assert f"Run {run.pk} as of 2026-11-22" in output
    assert "tier 1: 1 customers" in output and "tier 2: 2 customers" in output and "tier 3: 0 customers" in output
    assert "Moved: 0" in output and "new->2: 2" in output


def test_it_says_whose_metrics_it_computed(regulars):
    first = retier("--as-of", "2026-11-22")
    CustomerFactory()  # a newcomer tonight
    nightly = retier("--as-of", "2026-11-23")

    assert "Metrics computed for every customer (3)" in first
    assert "Metrics computed for 1 customer whose data or window changed" in nightly


def test_a_dry_run_says_so_and_writes_no_tiers(regulars):
    output = retier("--as-of", "2026-11-22", "--dry-run")

    assert "dry run: nothing written" in output and "tier 2: 2 customers" in output
    assert not CustomerMetrics.objects.exists()


def test_a_bad_date_is_a_clear_error_and_runs_nothing(regulars):
    with pytest.raises(CommandError, match=r"--as-of '2026-13-01' is not a date: use YYYY-MM-DD"):
        retier("--as-of", "2026-13-01")

    assert not RetierRun.objects.exists()


def test_while_another_run_goes_it_says_so_and_fails(regulars):
    with other_connection() as worker:
        worker.execute("SELECT pg_advisory_lock(%s)", [RETIER_LOCK_KEY])
        with pytest.raises(CommandError, match="another re-tier run is going"):
            retier("--as-of", "2026-11-22")

    assert RetierRun.objects.get().status == RetierRun.Status.SKIPPED
