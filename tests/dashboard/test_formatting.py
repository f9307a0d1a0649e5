from decimal import Decimal

import pytest
from django.http import QueryDict

from core.params import clean_list_params
from dashboard.formatting import metric_value, money, money_short, percent
from dashboard.why import describe


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1234.5"), "€1,234.50"),
        (Decimal("-80"), "−€80.00"),
        (0, "€0.00"),
        (None, "—"),
        (Decimal("0.005"), "€0.01"),
    ],
)
def test_money_reads_as_money(value, text):
    assert money(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("45018325.58"), "€45.0M"),
        (Decimal("-941454.21"), "−€941.5k"),
        (Decimal("950"), "€950"),
        (Decimal("2.5e9"), "€2.5bn"),
    ],
)
def test_short_money_rounds_big_totals(value, text):
    assert money_short(value) == text


def test_percent_and_metric_values_read_as_people_write_them():
    assert percent(Decimal("0.254")) == "25.4 %"
    assert metric_value("compensation_share", Decimal("0.1")) == "10.0 %"
    assert metric_value("days_since_last_order", None) == "no orders"
    assert metric_value("tenure_days", 1516) == "1,516 days"
    assert metric_value("median_gap_days", Decimal("12.0")) == "12 days"
    assert metric_value("orders", 3) == "3"


def test_a_check_reads_as_a_sentence():
    line = describe(
        {"level": 3, "metric": "net_margin", "op": "gte", "threshold": "5000", "value": "3120.50", "held": False}
    )
    assert line.sentence == "Net margin is €3,120.50; needs at least €5,000.00: not held."


def test_good_list_params_are_kept():
    params = clean_list_params(QueryDict("page=3&per_page=100&sort=-revenue"), sortable={"revenue"})
    assert (params.page, params.per_page, params.sort, params.problems) == (3, 100, "-revenue", [])


def test_bad_list_params_fall_back_to_defaults_and_say_so():
    params = clean_list_params(QueryDict("page=-1&per_page=1000&sort=--revenue"), sortable={"revenue"})
    assert (params.page, params.per_page, params.sort) == (1, 50, "-net_margin")
    assert len(params.problems) == 3


def test_the_why_lists_nested_groups_conditions_and_says_where_a_relative_threshold_came_from():
    from decimal import Decimal

    from dashboard.why import describe_groups
    from tiering.rules import Cond, Cut, Group, Rules, decide

    margin = Cond(
        "net_margin", "gte", Decimal(0), percentile=Decimal(98), population="repeat", cut=Cut(Decimal("4812.00"), 900)
    )
    rules = Rules((Group(3, "all", (margin,), (Group(3, "any", (Cond("categories", "gte", Decimal(3)),)),)),))

    [group] = describe_groups(decide({"net_margin": Decimal("5000.00"), "categories": 1}, rules).why())

    first, nested = group["lines"]
    assert first.needs.endswith("(the 98th percentile of customers with 2+ orders in the window in this run)")
    assert (nested.label, nested.held) == ("ANY of: Categories bought", False)
