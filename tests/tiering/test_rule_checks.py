"""Bad rule input is refused with a message on the field that is wrong."""

from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from tiering.rule_checks import condition_errors, condition_warnings, group_problems, validate_condition
from tiering.rules import Cond


def test_a_sound_condition_has_no_error():
    assert condition_errors("compensation_share", "lt", D("0.05")) == {}
    assert condition_errors("net_margin", "lt", D("-250.50")) == {}  # margin can be negative


def test_an_unknown_metric_is_reported_on_the_metric_field():
    errors = condition_errors("margin", "gt", D(0))
    assert list(errors) == ["metric"]
    assert errors["metric"].startswith("Unknown metric “margin”. Choose one of: revenue, cost,")


def test_an_unknown_comparison_is_reported_on_the_op_field():
    assert condition_errors("orders", "ge", D(1)) == {
        "op": "Unknown comparison “ge”. Choose one of: gt, gte, lt, lte, eq, ne."
    }


@pytest.mark.parametrize(
    "metric, value, message",
    [
        ("orders", D("2.5"), "Orders is counted in a whole number: use e.g. 2, not 2.5."),
        ("tenure_days", D("730.5"), "Tenure (days) is counted in whole days: use e.g. 730, not 730.5."),
        ("revenue", D("10.001"), "Revenue is money: use at most 2 decimal places, not 10.001."),
        (
            "compensation_share",
            D("0.12345"),
            "Compensation share is a share (0.05 is 5%): use at most 4 decimal places, not 0.12345.",
        ),
        (
            "compensation_share",
            D("25"),
            "Compensation share is a share written as a decimal (0.25 is 25%); 25 would be 2,500%. Use a value between 0 and 10.",
        ),
        ("orders", "abc", "“abc” is not a number."),
    ],
)
def test_a_value_of_the_wrong_type_for_the_metric_is_reported_on_the_value(metric, value, message):
    assert condition_errors(metric, "gte", value) == {"value": message}


@pytest.mark.parametrize("op, value", [("lt", D(0)), ("lte", D(-1)), ("eq", D(-3)), ("lt", D(-5))])
def test_a_comparison_a_never_negative_metric_cannot_meet_is_refused(op, value):
    message = condition_errors("rejected_complaints", op, value)["value"]
    assert message.startswith("Rejected complaints is never negative, so “Rejected complaints ")
    assert "can never hold" in message


def test_a_comparison_that_always_holds_is_allowed_because_it_still_needs_a_value():
    assert condition_errors("days_since_last_order", "gte", D(0)) == {}


def test_validate_condition_raises_with_the_field_named():
    with pytest.raises(ValidationError) as excinfo:
        validate_condition("orders", "lt", D(0))
    assert list(excinfo.value.message_dict) == ["value"]


def test_an_empty_group_is_a_problem():
    assert group_problems(2, "all", ()) == [
        "The tier 2 group has no condition, so it would place nobody. Add a condition or delete the group."
    ]


def test_a_group_for_tier_1_is_a_problem_because_tier_1_is_the_fallback():
    assert group_problems(1, "all", (Cond("orders", "gte", D(1)),))[0].startswith("Tier 1 is the fallback")


def test_an_all_group_no_value_can_satisfy_is_a_problem():
    assert group_problems(3, "all", (Cond("orders", "gte", D(5)), Cond("orders", "lt", D(3)))) == [
        "Tier 3: no orders can be ≥ 5 and < 3 at once, so the group can never match."
    ]
    assert group_problems(3, "all", (Cond("orders", "gt", D(2)), Cond("orders", "lt", D(3))))  # no whole number between
    assert group_problems(3, "all", (Cond("net_margin", "gt", D(2)), Cond("net_margin", "lte", D(2))))


def test_conditions_that_leave_room_or_are_joined_by_any_are_no_problem():
    assert (
        group_problems(
            3, "all", (Cond("compensation_share", "gt", D("0.2")), Cond("compensation_share", "lt", D("0.3")))
        )
        == []
    )
    assert (
        group_problems(3, "all", (Cond("median_gap_days", "gt", D(2)), Cond("median_gap_days", "lt", D(3)))) == []
    )  # 2.5
    assert group_problems(3, "any", (Cond("orders", "gte", D(5)), Cond("orders", "lt", D(3)))) == []


def test_a_whole_number_share_is_refused_as_a_percentage_typed_by_mistake():
    assert condition_errors("compensation_share", "lt", "5") == {
        "value": "Compensation share is a share written as a decimal (0.05 is 5%); 5 would be 500%. Did you mean 0.05?"
    }
    assert condition_errors("compensation_share", "lt", "1.5") == {}  # compensation can exceed revenue


def test_negative_counts_and_unreachable_day_counts_are_refused():
    assert "never negative" in condition_errors("active_months", "gte", "-3")["value"]
    assert "nobody can reach it" in condition_errors("tenure_days", "gte", "99999999")["value"]
    assert condition_errors("tenure_days", "lt", "99999999") == {}


def test_a_percentile_typed_as_a_share_is_refused_with_the_percentile_meant():
    assert condition_errors("net_margin", "gte", "0", "0.98", "repeat") == {
        "percentile": "A percentile is written out of 100: 0.98 would be below the 1st percentile. Did you mean 98?"
    }
    assert condition_errors("net_margin", "gte", "0", "1", "repeat") == {}  # the 1st percentile is a percentile


def test_a_share_with_a_percent_sign_says_which_decimal_to_type():
    assert condition_errors("compensation_share", "lt", "5%") == {
        "value": "Compensation share is a share written as a decimal: 5% is 0.05."
    }
    assert condition_errors("revenue", "gte", "50%") == {"value": "“50%” is not a number: write the number alone (50)."}


def test_a_negative_threshold_on_money_that_is_never_negative_is_refused_like_a_negative_count():
    assert condition_errors("revenue", "gte", "-5")["value"] == (
        "Revenue is never negative: a negative threshold (-5) says nothing. Use 0 or more."
    )
    assert condition_errors("net_margin", "gte", "-5") == {}  # margin can be negative


def test_months_with_an_order_beyond_the_thirteen_a_window_touches_are_refused_as_unreachable():
    assert condition_errors("active_months", "gte", "14")["value"] == (
        "Months with an order is at most 13, so “Months with an order ≥ 14” can never hold: nobody can reach it."
    )
    assert "nobody can reach it" in condition_errors("active_months", "gt", "13")["value"]
    assert condition_errors("active_months", "gte", "13") == {}


def test_a_share_that_reads_like_a_percentage_is_allowed_with_a_warning():
    assert condition_warnings("compensation_share", "lt", "1.5") == [
        "“Compensation share < 1.5” means 150% (compensation 1.5 times the revenue). If you meant 1.5%, write 0.015."
    ]
    assert condition_warnings("revenue_growth", "gte", "5") == [
        "“Spend growth ≥ 5” means 5 times last year's revenue. If you meant 5% more, write 1.05."
    ]
    assert condition_warnings("compensation_share", "lt", "0.05") == []
    assert condition_warnings("revenue_growth", "gte", "1.25") == []
    assert condition_warnings("compensation_share", "lt", "5") == []  # refused, not warned: see above
