"""The default rule set v1 (migration 0003, retired by v2 in 0014 and kept) places hand-made
customers of each kind where PRODUCT.md says."""

from decimal import Decimal as D

import pytest

from tiering.models import RuleSet
from tiering.rules import decide, rules_from_ruleset
from tiering.services_rules import ruleset_problems

ORDINARY = {  # a customer who passes everything but spend and breadth
    "revenue": D("2400.00"),
    "cost": D("1500.00"),
    "compensation": D("0.00"),
    "net_margin": D("900.00"),
    "orders": 8,
    "active_months": 6,
    "tenure_days": 900,
    "days_since_last_order": 20,
    "median_gap_days": D("35.0"),
    "categories": 2,
    "new_products": 0,
    "complaints": 0,
    "rejected_complaints": 0,
    "compensation_share": D("0"),
}
CUSTOMERS = {
    "a serial complainer": (
        dict(
            ORDINARY,
            complaints=7,
            rejected_complaints=5,
            compensation=D("700.00"),
            net_margin=D("200.00"),
            compensation_share=D("0.2917"),
        ),
        1,
    ),
    "a one-time buyer": (
        dict(
            ORDINARY,
            orders=1,
            active_months=1,
            tenure_days=40,
            days_since_last_order=40,
            median_gap_days=None,
            net_margin=D("400.00"),
        ),
        1,
    ),
    "a buyer who costs more than they bring": (dict(ORDINARY, net_margin=D("-35.00")), 1),
    "a customer with no order": (
        dict(
            ORDINARY,
            revenue=D("0"),
            cost=D("0"),
            net_margin=D("0"),
            orders=0,
            active_months=0,
            days_since_last_order=None,
            median_gap_days=None,
            categories=0,
        ),
        1,
    ),
    "a loyal repeat buyer": (ORDINARY, 2),
    "a loyal buyer in their second month": (dict(ORDINARY, orders=2, active_months=2, tenure_days=45), 2),
    "a lifetime big spender expanding into new products": (
        dict(
            ORDINARY,
            tenure_days=1500,
            active_months=11,
            orders=30,
            net_margin=D("12000.00"),
            categories=5,
            new_products=2,
            compensation_share=D("0.01"),
        ),
        3,
    ),
    "a big spender with only one year of tenure": (
        dict(ORDINARY, tenure_days=400, active_months=11, net_margin=D("12000.00"), categories=5, new_products=2),
        2,
    ),
    "a big spender buying nothing new": (
        dict(ORDINARY, tenure_days=1500, active_months=11, net_margin=D("12000.00"), categories=5, new_products=0),
        2,
    ),
    "a loyal buyer with huge compensation": (
        dict(
            ORDINARY,
            orders=10,
            active_months=8,
            compensation=D("1000.00"),
            net_margin=D("200.00"),
            compensation_share=D("0.3333"),
        ),
        1,
    ),
}


@pytest.fixture
def default_rules(db):
    return rules_from_ruleset(RuleSet.objects.get(version=1))


def test_the_migration_published_v1_with_two_runs_of_downgrade_grace_and_v2_retired_it(db):
    ruleset = RuleSet.objects.get(version=1)
    assert (ruleset.status, ruleset.grace_runs) == (RuleSet.Status.RETIRED, 2)
    assert ruleset_problems(ruleset=ruleset) == []
    assert list(ruleset.history.values_list("history_type", flat=True)) == ["~", "+"]  # created, then retired


@pytest.mark.parametrize("kind", CUSTOMERS)
def test_default_rules_place_each_kind_of_customer(default_rules, kind):
    metrics, tier = CUSTOMERS[kind]
    assert decide(metrics, default_rules).level == tier


def test_every_tier_3_condition_is_at_least_as_strict_as_tier_2(default_rules):
    """A lifetime customer is also a loyal one: tier 2 alone still places them."""
    lifetime = CUSTOMERS["a lifetime big spender expanding into new products"][0]
    tier2_only = type(default_rules)(tuple(g for g in default_rules.groups if g.level == 2))
    assert decide(lifetime, tier2_only).level == 2
