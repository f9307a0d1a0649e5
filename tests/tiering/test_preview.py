"""Preview: where a draft would put every customer, against the tier they hold, written nowhere."""

import datetime as dt
from decimal import Decimal as D

import pytest

from tests.factories import CustomerMetricsFactory
from tiering.models import CustomerMetrics, TierChange
from tiering.preview import preview_rules, preview_ruleset
from tiering.rules import Cond, Group, Rules

from .rulesets import make_ruleset

pytestmark = pytest.mark.django_db
DRAFT = {3: ("all", [("net_margin", "gte", "5000")]), 2: ("all", [("orders", "gte", "2")])}


@pytest.fixture
def customers():
    """Five customers: one rises to 3, one falls to 1, one falls from 3 to 2, two stay."""
    return {
        "rises": CustomerMetricsFactory(tier=2, revenue=D("9000"), cost=D("1000"), orders=9, customer__name="Rising"),
        "falls": CustomerMetricsFactory(tier=2, orders=1, customer__name="Falling"),
        "drops": CustomerMetricsFactory(tier=3, orders=4, customer__name="Dropping"),
        "stays2": CustomerMetricsFactory(tier=2, orders=3),
        "stays1": CustomerMetricsFactory(tier=1, orders=0),
    }


def test_the_matrix_counts_every_customer_by_held_and_new_tier(customers):
    preview = preview_ruleset(ruleset=make_ruleset(DRAFT))
    assert preview.matrix == {(2, 3): 1, (2, 1): 1, (3, 2): 1, (2, 2): 1, (1, 1): 1}
    assert (preview.total, preview.moved, preview.up, preview.down) == (5, 3, 1, 2)


def test_movers_are_listed_with_name_external_id_and_both_tiers(customers):
    preview = preview_ruleset(ruleset=make_ruleset(DRAFT))
    rising = customers["rises"].customer
    assert {(m.name, m.from_tier, m.to_tier) for m in preview.movers} == {
        ("Rising", 2, 3),
        ("Falling", 2, 1),
        ("Dropping", 3, 2),
    }
    mover = next(m for m in preview.movers if m.name == "Rising")
    assert (mover.customer_id, mover.external_id) == (rising.pk, rising.external_id)


def test_the_sample_is_shared_across_kinds_of_move_and_bounded(customers):
    for _ in range(6):
        CustomerMetricsFactory(tier=2, orders=1)  # six more falling 2 -> 1
    preview = preview_ruleset(ruleset=make_ruleset(DRAFT), sample=3)
    assert len(preview.movers) == 3
    assert {(m.from_tier, m.to_tier) for m in preview.movers} == {(2, 1), (2, 3), (3, 2)}


def test_a_common_move_fills_the_sample_a_rare_one_leaves(customers):
    for _ in range(6):
        CustomerMetricsFactory(tier=2, orders=1)  # 7 falling 2 -> 1, one each of the other moves
    preview = preview_ruleset(ruleset=make_ruleset(DRAFT), sample=6)
    assert [(m.from_tier, m.to_tier) for m in preview.movers] == [(3, 2), (2, 3)] + [(2, 1)] * 4


def test_a_missing_value_counts_as_failing_in_the_preview_too(customers):
    draft = make_ruleset({2: ("any", [("days_since_last_order", "ne", "5")])})
    CustomerMetrics.objects.update(last_order_at=None)  # no order: no days since one
    assert preview_ruleset(ruleset=draft).matrix == {(2, 1): 3, (3, 1): 1, (1, 1): 1}


def test_nothing_is_written(customers, django_assert_num_queries):
    before = list(CustomerMetrics.objects.order_by("pk").values_list("pk", "tier", "below_runs"))
    draft = make_ruleset(DRAFT)
    # groups+tiers, conditions, the run in force's as-of (the day counts count to it), SAVEPOINT,
    # SET LOCAL jit, matrix GROUP BY, movers sample, RELEASE SAVEPOINT
    with django_assert_num_queries(8):
        preview_ruleset(ruleset=draft)
    assert list(CustomerMetrics.objects.order_by("pk").values_list("pk", "tier", "below_runs")) == before
    assert not TierChange.objects.exists()


def test_the_preview_gives_each_tiers_share_of_customers_revenue_and_margin_before_and_after(db):
    CustomerMetricsFactory(tier=2, orders=5, revenue=D("300.00"), net_margin=D("100.00"))
    CustomerMetricsFactory(tier=2, orders=1, revenue=D("100.00"), net_margin=D("-20.00"))
    rules = Rules((Group(2, "all", (Cond("orders", "gte", D(2)),)),))

    preview = preview_rules(rules=rules)

    assert [(s.level, s.customers, s.revenue, s.margin) for s in preview.shares_before] == [(2, 1.0, 1.0, 1.0)]
    assert [(s.level, s.customers, s.revenue, s.margin) for s in preview.shares_after] == [
        (2, 0.5, 0.75, 1.25),
        (1, 0.5, 0.25, -0.25),
    ]


def test_a_cut_the_run_in_force_resolved_is_taken_from_its_record_not_resolved_again(
    customers, django_assert_num_queries
):
    from tests.churn.factories import RetierRunFactory

    # the run resolved the 50th percentile of everyone's orders to 4 over these same stored metrics
    cuts = [{"metric": "orders", "population": "everyone", "percentile": "50", "cut": "4", "eligible": 10}]
    RetierRunFactory(as_of=dt.date(2026, 11, 1), cuts=cuts)
    rules = Rules((Group(2, "all", (Cond("orders", "gte", D(0), percentile=D(50), population="everyone"),)),))

    # the run in force (as-of and cuts), SAVEPOINT, SET LOCAL jit, matrix, movers, RELEASE: no cut statement
    with django_assert_num_queries(6):
        preview = preview_rules(rules=rules)

    assert sum(n for (_, to), n in preview.matrix.items() if to == 2) == 2  # orders 9 and 4 reach the cut of 4


def test_a_cut_the_rule_page_resolved_since_the_run_is_reused_by_the_preview(customers):
    from tests.churn.factories import RetierRunFactory
    from tiering.models import RunCalibration

    run = RetierRunFactory(as_of=dt.date(2026, 11, 1))
    # the rule page kept the 50th percentile of everyone's orders as 4 (tiering.calibration)
    RunCalibration.objects.create(run=run, total=5, conditions={"cut orders everyone 50": ["4", 10]})
    rules = Rules((Group(2, "all", (Cond("orders", "gte", D(0), percentile=D(50), population="everyone"),)),))

    preview = preview_rules(rules=rules)

    assert sum(n for (_, to), n in preview.matrix.items() if to == 2) == 2  # 9 and 4 reach the kept cut of 4
