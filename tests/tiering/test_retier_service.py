"""retier_all: tiers, history, grace, idempotence, dry runs, ranges (PostgreSQL)."""

import datetime as dt

import pytest
from django.db import connection

from dashboard.selectors import customer_for_page
from tests.factories import CustomerFactory
from tests.tiering.retier_helpers import at, buy, publish_rules, tiers
from tiering.models import CustomerMetrics, RetierRun, TierChange
from tiering.services import RetierError, retier_all

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 22)


@pytest.fixture
def shop():
    """A big spender (tier 3), a regular (tier 2), a one-off buyer and a never-buyer (tier 1)."""
    big, regular, once, never = (CustomerFactory(name=n) for n in ["big", "regular", "once", "never"])
    buy(big, at("2026-03-01"), amount="900.00")
    buy(big, at("2026-04-01"), amount="600.00")
    buy(regular, at("2026-03-01"))
    buy(regular, at("2026-05-01"))
    buy(once, at("2026-03-01"))
    return {"big": big, "regular": regular, "once": once, "never": never}


def test_a_first_run_places_everyone_and_records_counts_and_first_tiers(shop):
    publish_rules()

    run = retier_all(as_of=AS_OF, triggered_by="test")

    assert run.status == RetierRun.Status.SUCCEEDED
    assert tiers() == {shop["big"].pk: 3, shop["regular"].pk: 2, shop["once"].pk: 1, shop["never"].pk: 1}
    assert run.counts == {"1": 2, "2": 1, "3": 1}
    assert run.matrix == {"new->1": 2, "new->2": 1, "new->3": 1}
    assert run.moved == 0  # first placements are not moves
    assert TierChange.objects.filter(run=run, from_tier=None).count() == 4
    assert CustomerMetrics.objects.get(pk=shop["big"].pk).revenue == 1500


def test_a_customer_who_moves_gets_a_history_row_with_the_why(shop):
    publish_rules()
    retier_all(as_of=AS_OF)
    buy(shop["once"], at("2026-11-22", "08:00:00"))

    run = retier_all(as_of=AS_OF + dt.timedelta(days=1))

    change = TierChange.objects.get(run=run)
    assert (change.customer_id, change.from_tier, change.to_tier) == (shop["once"].pk, 1, 2)
    assert change.why["tier"] == 2
    loyal = next(g for g in change.why["groups"] if g["level"] == 2)
    assert loyal["conditions"][0]["value"] == "2" and loyal["held"] is True
    assert (run.moved, run.matrix) == (1, {"1->2": 1})
    assert CustomerMetrics.objects.get(pk=shop["once"].pk).tier_since == change.changed_at


def test_a_second_run_with_the_same_date_and_rules_moves_nobody_and_rewrites_nothing(shop):
    publish_rules()
    retier_all(as_of=AS_OF)
    changes_before = TierChange.objects.count()
    row_versions = _row_versions()

    again = retier_all(as_of=AS_OF)

    assert (again.moved, again.matrix) == (0, {})
    assert TierChange.objects.count() == changes_before
    assert _row_versions() == row_versions  # not one CustomerMetrics row was rewritten


def test_the_next_night_rewrites_only_the_customers_whose_metrics_changed(shop):
    publish_rules()
    retier_all(as_of=AS_OF)
    row_versions = dict(_row_versions())
    buy(shop["regular"], at("2026-11-23", "08:00:00"))

    retier_all(as_of=AS_OF + dt.timedelta(days=1))

    rewritten = {pk for pk, version in _row_versions() if version != row_versions[pk]}
    assert rewritten == {shop["regular"].pk}  # a day older is no change: the day counts are derived
    page = customer_for_page(shop["big"].pk).metrics
    assert page.changed_as_of == AS_OF  # the last run that changed the row
    assert (
        page.days_since_last_order == (AS_OF + dt.timedelta(days=1) - dt.date(2026, 4, 1)).days
    )  # counted to the run in force
    assert page.tenure_days > 0


def test_a_drop_waits_for_grace_runs_in_a_row_below_and_an_upgrade_is_immediate(shop):
    publish_rules(grace_runs=2)
    retier_all(as_of=AS_OF)
    publish_rules(grace_runs=2, loyal_orders="3")  # the regular now falls short of tier 2
    buy(shop["once"], at("2026-11-22"), amount="2000.00")  # and the one-off buyer earns tier 3

    day1 = retier_all(as_of=AS_OF + dt.timedelta(days=1))
    assert tiers()[shop["once"].pk] == 3  # upgrade at once
    assert tiers()[shop["regular"].pk] == 2  # 1st run below: kept
    retier_all(as_of=AS_OF + dt.timedelta(days=1))  # the same day again does not count
    retier_all(as_of=AS_OF + dt.timedelta(days=2))
    assert tiers()[shop["regular"].pk] == 2  # 2nd run below: kept
    assert CustomerMetrics.objects.get(pk=shop["regular"].pk).below_runs == 2
    day3 = retier_all(as_of=AS_OF + dt.timedelta(days=3))

    assert tiers()[shop["regular"].pk] == 1  # 3rd run in a row below: drops
    assert CustomerMetrics.objects.get(pk=shop["regular"].pk).below_runs == 0
    assert day1.matrix == {"1->3": 1} and day3.matrix == {"2->1": 1}


def test_a_customer_back_above_the_line_starts_the_grace_count_again(shop):
    publish_rules(grace_runs=1)
    retier_all(as_of=AS_OF)
    publish_rules(grace_runs=1, loyal_orders="3")
    retier_all(as_of=AS_OF + dt.timedelta(days=1))
    publish_rules(grace_runs=1)
    retier_all(as_of=AS_OF + dt.timedelta(days=2))
    publish_rules(grace_runs=1, loyal_orders="3")

    retier_all(as_of=AS_OF + dt.timedelta(days=3))

    assert tiers()[shop["regular"].pk] == 2


def test_a_dry_run_writes_nothing_but_its_run_record(shop):
    publish_rules()

    run = retier_all(as_of=AS_OF, dry_run=True)

    assert run.dry_run and run.status == RetierRun.Status.SUCCEEDED
    assert run.counts == {"1": 2, "2": 1, "3": 1}
    assert CustomerMetrics.objects.count() == 0
    assert TierChange.objects.count() == 0


def test_metrics_computed_in_many_ranges_give_the_same_tiers_as_one(shop, settings):
    publish_rules()
    settings.RETIER_RANGE_SIZE = 1
    split = retier_all(as_of=AS_OF, dry_run=True)
    settings.RETIER_RANGE_SIZE = 1_000_000

    whole = retier_all(as_of=AS_OF, dry_run=True)

    assert split.progress["total"] >= 4 and whole.progress["total"] == 1
    assert (split.counts, split.matrix) == (whole.counts, whole.matrix)


def test_without_a_published_rule_set_the_run_fails_saying_so(shop):
    from tiering.models import RuleSet

    RuleSet.objects.update(status=RuleSet.Status.RETIRED)

    with pytest.raises(RetierError, match="No published rule set"):
        retier_all(as_of=AS_OF)

    assert RetierRun.objects.get().status == RetierRun.Status.FAILED
    assert CustomerMetrics.objects.count() == 0


def _row_versions():
    with connection.cursor() as cursor:
        cursor.execute("SELECT customer_id, xmin::text FROM tiering_customermetrics ORDER BY customer_id")
        return cursor.fetchall()


def test_only_the_published_rule_set_re_tiers_for_real_but_any_can_be_dry_run(shop):
    draft = publish_rules(loyal_orders="1")
    publish_rules()  # retires the first one

    with pytest.raises(RetierError, match=f"Rule set v{draft.version} is not the one in force"):
        retier_all(as_of=AS_OF, ruleset=draft)
    dry = retier_all(as_of=AS_OF, ruleset=draft, dry_run=True)

    assert dry.counts == {"1": 1, "2": 2, "3": 1}
    assert CustomerMetrics.objects.count() == 0
