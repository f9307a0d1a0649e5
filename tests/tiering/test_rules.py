"""decide(): the pure tier decision and the why it gives, on plain values (no database)."""

import json
from decimal import Decimal as D

import pytest

from tiering.rules import Cond, Group, Rules, decide, describe_why, format_value, tier_sql

TIER3 = Group(3, "all", (Cond("net_margin", "gte", D("5000")), Cond("categories", "gte", D(3))))
TIER2 = Group(2, "any", (Cond("orders", "gte", D(2)), Cond("active_months", "gte", D(2))))
RULES = Rules((TIER2, TIER3), grace_runs=2, version=7)  # listed low-first on purpose


def test_all_conditions_holding_places_the_customer_in_the_tier():
    assert decide({"net_margin": D("5000"), "categories": 3, "orders": 9}, RULES).level == 3


def test_all_group_fails_when_one_condition_fails():
    assert decide({"net_margin": D("4999.99"), "categories": 3, "orders": 0, "active_months": 0}, RULES).level == 1


def test_any_group_matches_when_one_condition_holds():
    assert decide({"net_margin": D("0"), "categories": 0, "orders": 0, "active_months": 2}, RULES).level == 2


def test_the_highest_matching_tier_wins_whatever_order_groups_are_listed_in():
    metrics = {"net_margin": D("9000"), "categories": 5, "orders": 9, "active_months": 9}
    assert decide(metrics, RULES).level == 3
    assert decide(metrics, Rules((TIER3, TIER2))).level == 3


def test_nobody_matching_falls_back_to_tier_1():
    assert decide({}, RULES).level == 1


def test_a_missing_value_makes_every_comparison_fail_even_not_equal():
    rules = Rules(
        (Group(2, "any", (Cond("days_since_last_order", "ne", D(5)), Cond("days_since_last_order", "lt", D(30)))),)
    )
    decision = decide({"days_since_last_order": None}, rules)
    assert decision.level == 1
    assert [c.held for c in decision.checks] == [False, False]


def test_an_empty_group_places_nobody():
    assert decide({"orders": 3}, Rules((Group(2, "all", ()),))).level == 1
    assert tier_sql(Rules((Group(2, "all", ()),)))[0].count("1 = 0") == 1


def test_decimal_comparisons_are_exact():
    rules = Rules((Group(2, "all", (Cond("compensation_share", "lt", D("0.1")),)),))
    assert decide({"compensation_share": D("0.0999")}, rules).level == 2
    assert decide({"compensation_share": D("0.1000")}, rules).level == 1


def test_unknown_metric_or_comparison_is_refused():
    with pytest.raises(ValueError, match="unknown metric 'margin'"):
        Cond("margin", "gt", D(0))
    with pytest.raises(ValueError, match="unknown comparison 'ge'"):
        Cond("orders", "ge", D(0))


def test_checks_cover_the_tier_reached_and_every_tier_above_it_only():
    decision = decide({"net_margin": D("3120"), "categories": 4, "orders": 3, "active_months": 0}, RULES)
    assert decision.level == 2
    assert [(c.level, c.metric, c.held) for c in decision.checks] == [
        (3, "net_margin", False),
        (3, "categories", True),
        (2, "orders", True),
        (2, "active_months", False),
    ]


def test_why_shows_each_condition_with_threshold_value_and_outcome_and_is_json():
    why = decide({"net_margin": D("3120.50"), "categories": 4, "orders": 3, "active_months": None}, RULES).why()
    assert json.loads(json.dumps(why)) == why
    assert why["tier"] == 2 and why["version"] == 7
    tier3, tier2 = why["groups"]
    assert (tier3["level"], tier3["match"], tier3["held"]) == (3, "all", False)
    assert tier3["conditions"][0] == {
        "metric": "net_margin",
        "label": "Net margin",
        "kind": "money",
        "op": "gte",
        "symbol": "≥",
        "threshold": "5000",
        "value": "3120.50",
        "held": False,
    }
    assert tier2["held"] is True and tier2["conditions"][1]["value"] is None


def test_why_reads_in_plain_words():
    why = decide({"net_margin": D("3120"), "categories": 4, "orders": 3, "active_months": 1}, RULES).why()
    tier3 = describe_why(why)[0]
    assert tier3["text"] == "Tier 3 needs ALL of:"
    assert tier3["conditions"][0] == {"text": "Net margin ≥ €5,000", "has": "€3,120", "held": False, "cut": ""}


@pytest.mark.parametrize(
    "metric, value, shown",
    [
        ("compensation_share", D("0.05"), "5%"),
        ("tenure_days", 730, "730 days"),
        ("net_margin", D("-12.5"), "−€12.50"),
        ("orders", 1200, "1,200"),
        ("days_since_last_order", None, "no value"),
    ],
)
def test_values_are_formatted_for_their_kind(metric, value, shown):
    assert format_value(metric, value) == shown


def test_integer_metrics_are_exactly_the_whole_number_columns_of_customer_metrics():
    from django.db import models

    from tiering.metrics import METRICS
    from tiering.models import MetricsStage
    from tiering.rules import INTEGER_METRICS

    integer_columns = {
        name for name in METRICS if isinstance(MetricsStage._meta.get_field(name), models.IntegerField)
    }  # the stage holds every metric
    assert INTEGER_METRICS == integer_columns


def test_an_integer_metric_against_a_fractional_threshold_compiles_to_whole_numbers():
    sql, params = tier_sql(Rules((Group(2, "all", (Cond("orders", "gt", D("2.5")), Cond("orders", "lt", D("7.5")))),)))
    assert params == [2, 8]  # orders > 2 and orders < 8
    assert "NUMERIC" not in sql


def test_a_plain_float_compares_as_the_decimal_it_prints_as():
    rules = Rules((Group(2, "all", (Cond("compensation_share", "eq", D("0.05")),)),))
    assert decide({"compensation_share": 0.05}, rules).level == 2
    assert decide({"compensation_share": 0.05}, rules).why()["groups"][0]["conditions"][0]["value"] == "0.05"


def test_every_metric_of_the_catalogue_is_a_column_of_the_stage_and_stored_unless_derived():
    from tiering.catalogue import METRICS
    from tiering.metrics import STAGE_COLUMNS
    from tiering.models import CustomerMetrics, MetricsStage

    stage = {f.column for f in MetricsStage._meta.concrete_fields} - {"id"}
    stored = {f.column for f in CustomerMetrics._meta.concrete_fields}
    assert set(STAGE_COLUMNS) == stage
    assert {m for m in METRICS if not METRICS[m].derived} <= stored
    assert {m for m in METRICS if METRICS[m].derived}.isdisjoint(stored)


def test_the_conditions_offer_exactly_the_comparisons_the_rules_know():
    from tiering.catalogue import OPERATORS
    from tiering.models import Condition

    field = Condition._meta.get_field("op")
    assert [(op, symbol) for op, symbol in field.choices] == [(op, o.symbol) for op, o in OPERATORS.items()]


def test_only_the_metrics_the_catalogue_says_can_be_negative_accept_a_negative_threshold():
    from tiering.catalogue import METRICS
    from tiering.rule_checks import condition_errors

    accepting = {name for name in METRICS if not condition_errors(name, "lt", "-1")}
    assert accepting == {name for name, m in METRICS.items() if m.negative} == {"net_margin", "lifetime_net_margin"}
