"""decide() and tier_sql() give the same tier for any metrics and any rule set, on the real database.

Random metrics rows go into a temporary table with exactly the column types of CustomerMetrics;
the compiled CASE expression is selected over them and compared with decide() row by row.
Values are drawn from small pools as often as freely, so thresholds often equal values (the
boundaries where > and >= differ) and missing values (NULL) are common.
"""

from decimal import Decimal as D

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiering.catalogue import OPERATORS, POPULATIONS
from tiering.metrics import METRICS
from tiering.rules import MATCHES, RELATIVE_OPS, Cond, Cut, Group, Rules, decide, tier_sql

NULLABLE = {"days_since_last_order", "median_gap_days", "revenue_growth"}
POOLS = {
    "money": [D("-100.00"), D("0.00"), D("0.01"), D("99.99"), D("100.00"), D("5000.00")],
    "count": [0, 1, 2, 3, 6],
    "days": [0, 1, 30, 365, 730],
    "ratio": [D("0"), D("0.0499"), D("0.05"), D("0.25"), D("1")],
}
NON_NEGATIVE = {name for name, m in METRICS.items() if not m.negative}


def value_of(name):
    kind = METRICS[name].kind
    if name == "median_gap_days":
        free = st.decimals(min_value=0, max_value=9999, places=1)
    elif kind == "money":
        free = st.decimals(min_value=0 if name in NON_NEGATIVE else -(10**9), max_value=10**9, places=2)
    elif kind == "ratio":
        free = st.decimals(min_value=0, max_value=99, places=4)
    else:
        free = st.integers(min_value=0, max_value=32767)
    pool = [v for v in POOLS[kind] if name not in NON_NEGATIVE or v >= 0]
    values = st.one_of(st.sampled_from(pool), free)
    return st.one_of(st.none(), values) if name in NULLABLE else values


metrics_rows = st.fixed_dictionaries({name: value_of(name) for name in METRICS})
thresholds = st.one_of(
    st.sampled_from([v for pool in POOLS.values() for v in pool]),
    st.decimals(min_value=-(10**6), max_value=10**6, places=4),
)
conds = st.builds(Cond, metric=st.sampled_from(list(METRICS)), op=st.sampled_from(list(OPERATORS)), value=thresholds)
groups = st.builds(
    Group,
    level=st.integers(1, 3),
    match=st.sampled_from(["all", "any"]),
    conditions=st.lists(conds, max_size=4).map(tuple),
)
rule_sets = st.lists(groups, max_size=3, unique_by=lambda g: g.level).map(lambda gs: Rules(tuple(gs)))


@pytest.fixture
def metrics_table(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE prop_metrics AS SELECT 0 AS row_id, "
            + ", ".join(METRICS)
            + " FROM tiering_metricsstage WITH NO DATA"  # the stage: every metric, as the run reads it
        )
    return "prop_metrics"


def load_rows(cursor, table, rows):
    """Replace the table's rows with these metrics, numbered in order as row_id."""
    columns = ["row_id", *METRICS]
    cursor.execute(f"TRUNCATE {table}")
    cursor.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
        [[i, *(row[name] for name in METRICS)] for i, row in enumerate(rows)],
    )


def sql_tiers(table, rows, rules):
    expression, params = tier_sql(rules)
    with connection.cursor() as cursor:
        load_rows(cursor, table, rows)
        cursor.execute(f"SELECT row_id, {expression} FROM {table} ORDER BY row_id", params)
        return [tier for _, tier in cursor.fetchall()]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(metrics_rows, min_size=1, max_size=8), rules=rule_sets)
def test_sql_expression_and_decide_agree_on_every_customer(metrics_table, rows, rules):
    assert connection.vendor == "postgresql"
    assert sql_tiers(metrics_table, rows, rules) == [decide(row, rules).level for row in rows]


# --- relative thresholds and nested groups --------------------------------------------------------

relative_conds = st.builds(
    Cond,
    metric=st.sampled_from(list(METRICS)),
    op=st.sampled_from(RELATIVE_OPS),
    value=thresholds,  # the floor
    percentile=st.sampled_from([D("50"), D("98"), D("12.5")]),
    population=st.sampled_from(list(POPULATIONS)),
    cut=st.builds(Cut, value=st.one_of(st.none(), thresholds), eligible=st.integers(0, 10**6)),  # as a run resolves
)
any_conds = st.one_of(conds, relative_conds)
matches = st.sampled_from(MATCHES)
# a group's shape: (match, conditions, nested shapes), at least two levels deep at times
shapes = st.recursive(
    st.tuples(matches, st.lists(any_conds, max_size=3), st.just([])),
    lambda nested: st.tuples(matches, st.lists(any_conds, max_size=3), st.lists(nested, max_size=2)),
    max_leaves=5,
)


def group_of(level, shape):
    match, conditions, nested = shape
    return Group(level, match, tuple(conditions), tuple(group_of(level, n) for n in nested))


nested_rule_sets = st.builds(
    lambda tiers, version: Rules(tuple(group_of(level, shape) for level, shape in tiers), version=version),
    st.lists(st.tuples(st.integers(1, 3), shapes), max_size=3, unique_by=lambda t: t[0]),
    st.one_of(st.none(), st.integers(1, 500)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(metrics_rows, min_size=1, max_size=8), rules=nested_rule_sets)
def test_sql_and_decide_agree_on_relative_thresholds_and_nested_groups(metrics_table, rows, rules):
    assert sql_tiers(metrics_table, rows, rules) == [decide(row, rules).level for row in rows]
