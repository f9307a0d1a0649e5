"""Tier history backfill: the tiers replayed at month ends over the loaded history (PostgreSQL)."""

import datetime as dt
import io
import random

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.factories import CustomerFactory, ProductFactory
from tests.tiering.retier_helpers import at, buy, complain, publish_rules
from tiering.models import RetierRun, TierBackfill, TierChange
from tiering.retier import backfill
from tiering.services import backfill_tiers, retier_all

pytestmark = pytest.mark.django_db

BEFORE = dt.date(2026, 11, 15)
MONTH_ENDS = [dt.date(2026, m, d) for m, d in [(3, 31), (4, 30), (5, 31), (6, 30), (7, 31), (8, 31), (9, 30), (10, 31)]]


@pytest.fixture
def history():
    """30 customers signed up long ago, buying on and off from 2025-09 to 2026-10: spenders who
    stop, regulars who slow down, one-off buyers, a complainer. Deterministic."""
    rng = random.Random(12)
    products = [ProductFactory(category=c) for c in ("a", "b", "c")]
    customers = [CustomerFactory() for _ in range(30)]
    for i, customer in enumerate(customers):
        day = dt.date(2025, 9, 1) + dt.timedelta(days=rng.randrange(60))
        stop = dt.date(2025, 12, 1) + dt.timedelta(days=rng.randrange(330))
        gap = rng.choice([12, 25, 40, 75])
        while day < min(stop, dt.date(2026, 10, 31)):
            amount = f"{rng.choice([30, 80, 150, 400, 700]) * (3 if i % 7 == 0 else 1)}.00"
            buy(customer, at(day.isoformat()), amount=amount, product=rng.choice(products))
            day += dt.timedelta(days=gap + rng.randrange(gap))
        if i % 9 == 0:
            complain(customer, at("2026-02-10"))
    return customers


def backfilled_history() -> set[tuple]:
    return {
        (c.customer_id, c.replayed_as_of, c.from_tier, c.to_tier, repr(c.why))
        for c in TierChange.objects.filter(backfilled=True)
    }


def nightly_history() -> set[tuple]:
    return {
        (c.customer_id, c.run.as_of, c.from_tier, c.to_tier, repr(c.why))
        for c in TierChange.objects.filter(backfilled=False).select_related("run")
    }


@pytest.mark.parametrize("rules", ["grace", "default"])
def test_the_backfill_equals_running_the_same_month_ends_one_by_one_through_the_nightly_re_tier(history, rules):
    if rules == "grace":
        publish_rules(grace_runs=1, lifetime_revenue="1500")  # drops wait a month: the replay keeps the count
    # else: the rule set the migrations publish (relative thresholds, resolved at each month end)

    record = backfill_tiers(months=8, before=BEFORE, triggered_by="test")
    for day in MONTH_ENDS:
        assert retier_all(as_of=day, triggered_by="test").status == RetierRun.Status.SUCCEEDED

    assert (record.status, record.months, record.first_as_of, record.last_as_of) == (
        TierBackfill.Status.SUCCEEDED, 8, MONTH_ENDS[0], MONTH_ENDS[-1],
    )  # fmt: skip
    replayed, nightly = backfilled_history(), nightly_history()
    assert replayed == nightly
    assert record.entries == len(replayed) > len(history)  # everyone placed, then some moved


def test_a_backfilled_change_holds_from_the_end_of_its_month_end(history):
    publish_rules()
    backfill_tiers(months=2, before=BEFORE)

    change = TierChange.objects.filter(backfilled=True).order_by("changed_at").first()
    assert change.run is None
    assert change.changed_at == dt.datetime(2026, 10, 1, tzinfo=dt.UTC)  # after every order of 30 September
    assert change.replayed_as_of == dt.date(2026, 9, 30)


def test_running_it_again_replaces_the_backfilled_entries_and_never_duplicates_them(history):
    publish_rules()
    first = backfill_tiers(months=8, before=BEFORE)
    entries = backfilled_history()

    again = backfill_tiers(months=8, before=BEFORE)

    assert backfilled_history() == entries
    assert TierChange.objects.count() == len(entries) == again.entries == again.replaced == first.entries


def test_it_never_touches_the_history_nightly_runs_wrote_and_replays_only_before_it(history):
    publish_rules()
    retier_all(as_of=dt.date(2026, 6, 30))
    retier_all(as_of=dt.date(2026, 9, 30))
    real = set(TierChange.objects.values_list("id", "customer_id", "from_tier", "to_tier", "changed_at"))

    record = backfill_tiers(months=24, before=BEFORE)

    assert set(TierChange.objects.filter(backfilled=False).values_list(
        "id", "customer_id", "from_tier", "to_tier", "changed_at")) == real  # fmt: skip
    assert record.last_as_of == dt.date(2026, 5, 31)  # before the first real run's date
    assert record.first_as_of == dt.date(2025, 9, 30)  # the first month with an order
    assert max(c.replayed_as_of for c in TierChange.objects.filter(backfilled=True)) <= dt.date(2026, 5, 31)


def test_a_backfill_that_fails_midway_leaves_the_earlier_backfill_as_it_was(history, monkeypatch):
    publish_rules()
    backfill_tiers(months=8, before=BEFORE)
    before = set(TierChange.objects.values_list("id", "changed_at", "to_tier"))
    replay_month = backfill._replay_month
    calls = []

    def dies_at_the_third_month(plan):
        calls.append(plan.as_of)
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        replay_month(plan)

    monkeypatch.setattr(backfill, "_replay_month", dies_at_the_third_month)
    with pytest.raises(RuntimeError):
        backfill_tiers(months=8, before=BEFORE)

    assert set(TierChange.objects.values_list("id", "changed_at", "to_tier")) == before
    failed = TierBackfill.objects.first()
    assert (failed.status, failed.error) == (TierBackfill.Status.FAILED, "RuntimeError: worker killed")
    assert failed.progress["done"] == 2 and failed.progress["total"] == 8  # how far it got


def test_a_customer_enters_the_replay_at_the_first_month_end_after_signing_up_or_ordering(history):
    publish_rules()
    late = CustomerFactory(signed_up_on=dt.date(2026, 7, 10))
    never = CustomerFactory(signed_up_on=None)

    backfill_tiers(months=8, before=BEFORE)

    assert [c.replayed_as_of for c in TierChange.objects.filter(customer=late)] == [dt.date(2026, 7, 31)]
    assert not TierChange.objects.filter(customer=never).exists()


def test_the_first_run_over_loaded_history_replays_the_month_ends_before_it_and_later_runs_do_not(history, settings):
    settings.RETIER_BACKFILL_MONTHS = 24
    publish_rules()

    retier_all(as_of=dt.date(2026, 11, 2))
    assert TierBackfill.objects.count() == 1
    record = TierBackfill.objects.get()
    assert (record.status, record.first_as_of, record.last_as_of) == (
        "succeeded",
        dt.date(2025, 9, 30),
        dt.date(2026, 10, 31),
    )
    assert record.triggered_by.startswith("first run")

    retier_all(as_of=dt.date(2026, 11, 3))
    assert TierBackfill.objects.count() == 1


def test_a_first_run_over_more_customers_than_fit_its_limit_goes_first_and_the_backfill_follows(history, settings):
    """Over RETIER_BACKFILL_INLINE_MAX_CUSTOMERS the replay would not fit the run's time limit: the run
    places everyone, then the backfill runs as its own task (eagerly here) over the same month ends."""
    settings.RETIER_BACKFILL_MONTHS = 24
    settings.RETIER_BACKFILL_INLINE_MAX_CUSTOMERS = 1
    publish_rules()

    run = retier_all(as_of=dt.date(2026, 11, 2))

    record = TierBackfill.objects.get()
    assert run.status == RetierRun.Status.SUCCEEDED and record.started_at > run.finished_at
    assert (record.status, record.first_as_of, record.last_as_of) == (
        "succeeded",
        dt.date(2025, 9, 30),
        dt.date(2026, 10, 31),
    )
    assert record.triggered_by.startswith("after the first run")
    assert TierChange.objects.filter(backfilled=True).exists() and TierChange.objects.filter(run=run).exists()


def test_the_command_replays_and_prints_what_it_wrote(history):
    publish_rules()
    out = io.StringIO()
    call_command("backfill_tiers", "--months", "3", "--before", "2026-11-15", stdout=out, stderr=io.StringIO())
    record = TierBackfill.objects.get()
    assert f"Backfill {record.pk} with rule set v" in out.getvalue()
    assert "3 month ends, 2026-08-31 to 2026-10-31" in out.getvalue()
    assert f"Backfilled tier changes written: {record.entries} (replacing 0)" in out.getvalue()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--months", "0"], "--months must be at least 1"),
        (["--before", "30/11/2026"], "is not a date"),
        (["--rules", "99"], "has never been in force"),
        (["--rules", "newest"], '"published" or a rule set version'),
    ],
)
def test_the_command_refuses_bad_input_and_writes_nothing(history, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("backfill_tiers", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert not TierChange.objects.exists() and not TierBackfill.objects.exists()


def test_month_ends_stop_at_the_first_orders_month():
    ends = backfill.month_ends(before=dt.date(2026, 3, 1), months=24, first_day=dt.date(2025, 11, 20))
    assert ends == [dt.date(2025, 11, 30), dt.date(2025, 12, 31), dt.date(2026, 1, 31), dt.date(2026, 2, 28)]
    assert backfill.month_ends(before=dt.date(2026, 3, 31), months=2, first_day=dt.date(2020, 1, 1)) == [
        dt.date(2026, 1, 31), dt.date(2026, 2, 28),
    ]  # fmt: skip
    assert backfill.month_ends(before=dt.date(2026, 3, 1), months=24, first_day=None) == []
