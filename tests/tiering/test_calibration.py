"""Calibration: each condition's histogram, threshold and passing count, as the rule page shows them."""

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.churn.factories import RetierRunFactory
from tests.factories import CustomerMetricsFactory
from tiering.calibration import calibrate, calibrate_run
from tiering.models import RunCalibration
from tiering.rules import Cond, Group, Rules

pytestmark = pytest.mark.django_db

ORDERS = [0, 1, 2, 3, 5, 8]
MARGINS = ["-50.00", "0.00", "120.00", "480.00", "2500.00", "9000.00"]


@pytest.fixture
def six():
    """Six customers: orders 0, 1, 2, 3, 5, 8 and net margins -50 … 9,000; two never ordered
    (no days since last order)."""
    return [
        CustomerMetricsFactory(
            orders=n,
            revenue=D(m) + 100,
            cost=D(100),
            categories=1,
            days_since_last_order=None if n == 0 or i == 1 else 10 * i,
        )
        for i, (n, m) in enumerate(zip(ORDERS, MARGINS))
    ]


REPEAT = (Cond("orders", "gte", D(2)),)


def rules(*tier3, tier2=REPEAT):
    return Rules((Group(3, "all", tuple(tier3)), Group(2, "all", tuple(tier2))))


def by_text(calibration):
    return {(c.where, c.text): c for c in calibration}


def test_each_condition_counts_the_customers_who_pass_it_alone(six):
    nested = Group(3, "any", (Cond("days_since_last_order", "lt", D(25)),))
    result = calibrate(
        Rules((Group(3, "all", (Cond("orders", "gte", D(3)), Cond("net_margin", "gt", D(100))), (nested,)),))
    )

    assert [(c.where, c.text, c.passing, c.total) for c in result] == [
        ("Tier 3", "Orders ≥ 3", 3, 6),  # 3, 5, 8
        ("Tier 3", "Net margin > €100", 4, 6),  # 120, 480, 2,500, 9,000
        ("Tier 3 › ANY of", "Days since last order < 25 days", 1, 6),  # 20 (10·2); 30, 40, 50 fail
    ]
    assert result[2].missing == 2  # never ordered: no value, the comparison fails
    assert result[0].share_text == "50%"


def test_the_histogram_counts_every_customer_with_a_value_and_marks_the_threshold(six):
    (orders,) = calibrate(Rules((Group(2, "all", (Cond("orders", "gte", D(3)),)),)))

    assert orders.scale == "exact"  # 0 … 8: one bar per value
    assert [b.label for b in orders.buckets] == [str(n) for n in range(9)]
    assert [b.count for b in orders.buckets] == [1, 1, 1, 1, 0, 1, 0, 0, 1]
    assert [b.side for b in orders.buckets] == ["fail"] * 3 + ["pass"] * 6
    assert [(m.at, m.label) for m in orders.markers] == [(3.0, "≥ 3")]  # the left edge of the "3" bar


def test_money_is_drawn_on_a_labelled_log_scale_with_zero_a_bar_of_its_own(six):
    (margin,) = calibrate(Rules((Group(2, "all", (Cond("net_margin", "gt", D(0)),)),)))

    assert margin.scale == "log"
    assert "log scale" in margin.scale_note
    bars = {b.label: b.count for b in margin.buckets if b.count}
    assert bars == {"−50 to 0": 1, "0": 1, "100–200": 1, "200–500": 1, "2k–5k": 1, "5k–9k": 1}
    assert sum(b.count for b in margin.buckets) == 6
    assert {b.label: b.side for b in margin.buckets}["0"] == "fail"  # 0 is not > 0


def test_a_relative_condition_uses_the_last_runs_cut_and_counts_within_its_population(six):
    cuts = [{"metric": "net_margin", "population": "repeat", "percentile": "50", "cut": "480", "eligible": 4}]
    RetierRunFactory(as_of=dt.date(2026, 11, 1), cuts=cuts)
    relative = Cond("net_margin", "gte", D(0), percentile=D(50), population="repeat")

    (c,) = calibrate(Rules((Group(3, "all", (relative,)),)))

    assert c.threshold == D(480) and c.needs == "≥ €480"
    assert c.source == "the 50th percentile of customers with 2+ orders in the window in the last run (floor €0)"
    assert (c.passing, c.eligible, c.passing_eligible) == (3, 4, 3)  # 480, 2,500, 9,000; all three repeat buyers
    assert [m.kind for m in c.markers] == ["cut", "floor"]


def test_a_cut_no_run_resolved_is_resolved_over_the_stored_metrics(six):
    CustomerMetricsFactory.create_batch(4, orders=1)  # ten customers: enough for the 80th percentile
    relative = Cond("orders", "gte", D(0), percentile=D(80), population="everyone")

    (c,) = calibrate(Rules((Group(3, "all", (relative,)),)))

    assert c.threshold == D(3)  # percentile_disc(0.8) of 0, 1, 1, 1, 1, 1, 2, 3, 5, 8: the 8th value
    assert c.source.endswith("over the stored metrics (no run has resolved it yet) (floor 0)")
    assert c.passing == 3


def test_it_warns_about_a_condition_that_holds_for_nobody_or_everybody_or_a_metric_with_no_spread(six):
    result = by_text(
        calibrate(rules(Cond("orders", "gte", D(50)), Cond("orders", "gte", D(0)), Cond("categories", "gte", D(1))))
    )

    assert result["Tier 3", "Orders ≥ 50"].warnings == (
        "Tier 3: “Orders ≥ 50” holds for none of the 6 customers. Nobody can reach it: the highest value is 8.",
    )
    assert result["Tier 3", "Orders ≥ 0"].warnings == (
        "Tier 3: “Orders ≥ 0” holds for every customer: it decides nothing.",
    )
    assert "categories bought is 1 for every customer with a value: it cannot tell them apart." in " ".join(
        result["Tier 3", "Categories bought ≥ 1"].warnings
    )
    assert result["Tier 2", "Orders ≥ 2"].warnings == ()


def test_it_warns_about_a_share_that_reads_like_a_percentage(six):
    (c,) = calibrate(Rules((Group(2, "none", (Cond("compensation_share", "gte", D(1)),)),)))
    assert c.warnings[0] == (
        "Tier 2: “Compensation share ≥ 1” means 100% (compensation as large as the revenue). "
        "If you meant 1%, write 0.01."
    )


def test_no_customer_with_metrics_means_no_calibration(db):
    assert calibrate(rules(Cond("orders", "gte", D(3)))) == []


def test_the_queries_do_not_grow_with_the_number_of_conditions(six):
    few = rules(Cond("orders", "gte", D(3)), Cond("net_margin", "gte", D(0), percentile=D(90), population="everyone"))
    many = rules(
        *[Cond("orders", "gte", D(n)) for n in range(8)],
        Cond("net_margin", "gt", D(0)),
        Cond("net_margin", "gte", D(0), percentile=D(90), population="everyone"),
        Cond("days_since_last_order", "lt", D(30)),
        tier2=[Cond("net_margin", "gte", D(n)) for n in range(0, 500, 50)],
    )
    counted = []
    for rule_set in (few, many):
        with CaptureQueriesContext(connection) as queries:
            calibrate(rule_set)
        counted.append(len(queries))
    # the run in force (none: nothing to read or keep), SAVEPOINT, SET LOCAL jit, the cuts, the
    # scan of counts and spreads, one histogram scan (up to 7 metrics), RELEASE SAVEPOINT
    assert counted == [7, 7]


def test_what_a_run_measured_is_kept_and_read_instead_of_scanned_again(six):
    run = RetierRunFactory(as_of=dt.date(2026, 11, 1))
    calibrate_run(run_id=run.pk)
    stored = RunCalibration.objects.get(run=run)
    assert stored.total == 6 and "lifetime_orders" in stored.metrics  # every metric of the catalogue
    rule_set = rules(Cond("orders", "gte", D(2)), tier2=(Cond("net_margin", "gt", D(100)),))
    first = calibrate(rule_set)

    with CaptureQueriesContext(connection) as queries:
        again = calibrate(rule_set)

    assert again == first
    assert not [q for q in queries if "tiering_customermetrics" in q["sql"]]  # no scan: read from the run's record
    assert [(c.text, c.passing) for c in again] == [("Orders ≥ 2", 4), ("Net margin > €100", 4)]


def test_a_new_threshold_is_measured_alone_and_merged_into_the_runs_record(six):
    run = RetierRunFactory(as_of=dt.date(2026, 11, 1))
    calibrate(rules(Cond("orders", "gte", D(2))))

    with CaptureQueriesContext(connection) as queries:
        (c, _) = calibrate(rules(Cond("orders", "gte", D(5))))

    scans = [q["sql"] for q in queries if "tiering_customermetrics" in q["sql"]]
    assert len(scans) == 1 and "width_bucket" not in scans[0]  # the count only: the histogram is kept
    assert c.passing == 2
    assert "orders gte 5" in RunCalibration.objects.get(run=run).conditions


def test_a_retier_measures_the_calibration_after_it_commits(six, django_capture_on_commit_callbacks, settings):
    from tiering.services import retier_all

    settings.RETIER_FOLLOW_UP_TASKS = True
    with django_capture_on_commit_callbacks(execute=True):
        run = retier_all(as_of=dt.date(2026, 11, 1), triggered_by="test")

    stored = RunCalibration.objects.get(run=run)
    assert stored.total == 6  # every customer with metrics, as the run left them
    assert set(stored.metrics) >= {"orders", "net_margin", "lifetime_net_margin", "tenure_days"}
    assert stored.conditions  # the conditions of the rules in force


def test_no_calibration_is_measured_when_follow_up_tasks_are_off(six, django_capture_on_commit_callbacks, settings):
    from tiering.services import retier_all

    settings.RETIER_FOLLOW_UP_TASKS = False
    with django_capture_on_commit_callbacks(execute=True):
        retier_all(as_of=dt.date(2026, 11, 1), triggered_by="test")
    assert not RunCalibration.objects.exists()


def test_a_cut_resolved_since_the_run_is_kept_and_not_resolved_again(six):
    CustomerMetricsFactory.create_batch(4, orders=1)
    RetierRunFactory(as_of=dt.date(2026, 11, 1))
    rule_set = Rules((Group(3, "all", (Cond("orders", "gte", D(0), percentile=D(80), population="everyone"),)),))
    calibrate(rule_set)

    with CaptureQueriesContext(connection) as queries:
        (c,) = calibrate(rule_set)

    assert not [q for q in queries if "percentile_disc" in q["sql"]]
    assert (c.threshold, c.passing) == (D(3), 3)
    assert "no run has resolved it yet" in c.source  # kept, but still not the run's own cut
