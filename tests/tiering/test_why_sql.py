"""why_sql() writes, in PostgreSQL, exactly the why that decide() gives in Python.

Random metrics go into a temporary table with the column types of the stage the re-tier reads; decide() is
given the values as read back from that table (numeric(14,2) turns 5 into 5.00, as a real row
would), and its why() is compared with the parsed jsonb of why_sql() for the same row. A real
re-tier is then checked to store that why on every history row it writes.
"""

import datetime as dt
import json
from decimal import Decimal as D

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import CustomerFactory
from tests.tiering.retier_helpers import at, buy, complain, publish_rules
from tests.tiering.test_rules_property import (  # noqa: F401 (fixture)
    conds,
    load_rows,
    metrics_rows,
    metrics_table,
    nested_rule_sets,
)
from tiering.metrics import METRICS
from tiering.models import CustomerMetrics, RetierRun, TierChange
from tiering.rules import Cond, Group, Rules, decide, rules_from_ruleset, why_sql
from tiering.services import retier_all

pytestmark = pytest.mark.django_db

groups = st.builds(
    Group,
    level=st.integers(1, 3),
    match=st.sampled_from(["all", "any"]),
    conditions=st.lists(conds, max_size=4).map(tuple),
)
rule_sets = st.builds(
    Rules,
    groups=st.lists(groups, max_size=3, unique_by=lambda g: g.level).map(tuple),
    version=st.one_of(st.none(), st.integers(1, 500)),
)


def whys_both_ways(table, rows, rules, *, tier=None):
    """[(why from SQL, why from decide())] per row, decide() reading the values as stored."""
    expression, params = why_sql(rules, tier=tier)
    with connection.cursor() as cursor:
        load_rows(cursor, table, rows)
        cursor.execute(f"SELECT {', '.join(METRICS)}, ({expression})::text FROM {table} ORDER BY row_id", params)
        stored = cursor.fetchall()
    return [(json.loads(row[-1]), decide(dict(zip(METRICS, row[:-1])), rules).why()) for row in stored]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(metrics_rows, min_size=1, max_size=6), rules=rule_sets)
def test_the_sql_why_is_the_why_decide_gives_for_any_metrics_and_rules(metrics_table, rows, rules):
    assert connection.vendor == "postgresql"
    for from_sql, from_python in whys_both_ways(metrics_table, rows, rules):
        assert from_sql == from_python


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(metrics_rows, min_size=1, max_size=6), rules=nested_rule_sets)
def test_the_sql_why_is_the_why_decide_gives_with_relative_thresholds_and_nested_groups(metrics_table, rows, rules):
    for from_sql, from_python in whys_both_ways(metrics_table, rows, rules):
        assert from_sql == from_python


def test_values_are_written_as_stored_and_thresholds_plainly(metrics_table):
    rules = Rules(
        (
            Group(
                3,
                "all",
                (Cond("net_margin", "gte", D("5000.00")), Cond("days_since_last_order", "lt", D("30"))),
            ),
            Group(2, "any", (Cond("compensation_share", "lte", D("0.05")),)),
        ),
        version=4,
    )
    row = {name: 0 for name in METRICS} | {
        "net_margin": D("3120.5"),
        "days_since_last_order": None,
        "compensation_share": D("0.05"),
    }

    [(from_sql, from_python)] = whys_both_ways(metrics_table, [row], rules)

    assert from_sql == from_python
    tier3, tier2 = from_sql["groups"]
    assert [c["value"] for c in tier3["conditions"]] == ["3120.50", None]  # numeric(14,2) as stored; no value
    assert tier3["conditions"][0]["threshold"] == "5000" and tier3["held"] is False
    assert tier2["conditions"][0]["value"] == "0.0500" and tier2["held"] is True
    assert (from_sql["tier"], from_sql["version"]) == (2, 4)


def test_groups_below_the_matching_one_are_not_shown_and_a_given_tier_column_is_used(metrics_table):
    rules = Rules(
        (Group(3, "all", (Cond("orders", "gte", D("2")),)), Group(2, "all", (Cond("orders", "gte", D("1")),)))
    )
    row = {name: 0 for name in METRICS} | {"orders": 5}

    [(from_sql, from_python)] = whys_both_ways(metrics_table, [row], rules, tier="3")

    assert from_sql == from_python
    assert [g["level"] for g in from_sql["groups"]] == [3]


def test_rules_with_no_group_explain_the_fallback_tier(metrics_table):
    [(from_sql, from_python)] = whys_both_ways(metrics_table, [{name: 1 for name in METRICS}], Rules(()))

    assert from_sql == from_python == {"tier": 1, "version": None, "groups": []}


def test_a_real_run_stores_on_every_history_row_the_why_decide_gives():
    big, regular, complainer, never = (CustomerFactory(name=n) for n in ["big", "regular", "complainer", "never"])
    buy(big, at("2026-03-01"), amount="900.50")
    buy(big, at("2026-04-01"), amount="600.00")
    buy(regular, at("2026-03-01"))
    buy(regular, at("2026-05-01"))
    buy(complainer, at("2026-06-01"), amount="1200.00")
    complain(complainer, at("2026-06-02"), compensation="25.00")
    ruleset = publish_rules()

    run = retier_all(as_of=dt.date(2026, 11, 22))

    rules = rules_from_ruleset(ruleset)
    changes = list(TierChange.objects.filter(run=run).order_by("customer_id"))
    assert [c.customer_id for c in changes] == [big.pk, regular.pk, complainer.pk, never.pk]
    metrics = {m.customer_id: m for m in CustomerMetrics.objects.all()}
    for change in changes:
        expected = decide({name: getattr(metrics[change.customer_id], name) for name in METRICS}, rules).why()
        assert change.why == expected
    assert changes[0].why["groups"][0]["conditions"][0]["value"] == "1500.50"
    assert RetierRun.objects.get(pk=run.pk).status == RetierRun.Status.SUCCEEDED
