"""The default rule set v2 (migration 0014): PRODUCT.md's table in relative terms. Hand-made
customers land where the table says, given the cuts a run resolved; and a whole business gets the
same tiers whatever its currency unit."""

import datetime as dt
import random
from decimal import Decimal as D

import pytest
from django.db import connection

from customers.models import Customer
from tests.factories import CustomerFactory, ProductFactory
from tests.tiering.retier_helpers import at, buy, complain
from tiering.cuts import relative_keys, with_cuts
from tiering.models import CustomerMetrics, RuleSet
from tiering.rules import Cut, decide, rules_from_ruleset
from tiering.services import retier_all
from tiering.services_rules import ruleset_problems

pytestmark = pytest.mark.django_db

# The cuts a run might resolve (percentiles of repeat buyers), as numbers to decide with.
CUTS = {
    "lifetime_net_margin": D("5000"),  # the 90th percentile
    "tenure_days": D("400"),  # the median
    "net_margin": D("3000"),  # the 97th
    "categories": D("3"),  # the 90th
    "new_products": D("1"),  # the 90th
}
LOYAL = {
    "revenue": D("2400.00"),
    "cost": D("1500.00"),
    "compensation": D("0.00"),
    "net_margin": D("900.00"),
    "orders": 8,
    "active_months": 6,
    "tenure_days": 900,
    "days_since_last_order": 20,
    "categories": 2,
    "new_products": 0,
    "rejected_complaints": 0,
    "compensation_share": D("0"),
    "lifetime_net_margin": D("3000.00"),
    "lifetime_orders": 25,
    "revenue_growth": D("1.0"),
}
BIG = dict(LOYAL, lifetime_net_margin=D("40000.00"), tenure_days=1500)
CUSTOMERS = {
    "a loyal repeat buyer": (LOYAL, 2),
    "the whale: 35,000 a year for four years, two categories, nothing new": (
        dict(BIG, revenue=D("35000.00"), net_margin=D("14000.00"), active_months=12, orders=40),
        3,
    ),
    "a long-standing big spender who tried the new products": (dict(BIG, new_products=2), 3),
    "a long-standing big spender spending half as much again as last year": (dict(BIG, revenue_growth=D("1.6")), 3),
    "a long-standing big spender with nothing that raises the case": (BIG, 2),
    "a big spender newer than most repeat buyers": (dict(BIG, new_products=2, tenure_days=200), 2),
    "a big spender compensated 10% of what they pay": (dict(BIG, new_products=2, compensation_share=D("0.10")), 2),
    "a former big spender with no order this year (dormant)": (
        dict(BIG, new_products=0, orders=0, active_months=0, revenue=D("0"), net_margin=D("0")),
        1,
    ),
    "a one-time buyer": (dict(LOYAL, orders=1, active_months=1, tenure_days=40, lifetime_orders=1), 1),
    "a serial complainer": (dict(LOYAL, rejected_complaints=4), 1),
    "a buyer compensated a third of what they pay": (dict(LOYAL, compensation_share=D("0.3333")), 1),
    "a buyer who costs more than they bring": (dict(LOYAL, net_margin=D("-35.00")), 1),
}


@pytest.fixture
def v2():
    return rules_from_ruleset(RuleSet.objects.get(status=RuleSet.Status.PUBLISHED))


def resolved(rules):
    return with_cuts(rules, {key: Cut(CUTS[key[0]], 500) for key in relative_keys(rules)})


def test_the_migration_publishes_v2_with_two_runs_of_grace_and_keeps_v1_retired(db):
    ruleset = RuleSet.objects.get(status=RuleSet.Status.PUBLISHED)
    assert (ruleset.version, ruleset.grace_runs) == (2, 2)
    assert ruleset_problems(ruleset=ruleset) == []
    assert RuleSet.objects.get(version=1).status == RuleSet.Status.RETIRED


@pytest.mark.parametrize("kind", CUSTOMERS)
def test_v2_places_each_kind_of_customer(v2, kind):
    metrics, tier = CUSTOMERS[kind]
    assert decide(metrics, resolved(v2)).level == tier


def test_every_v2_tier_3_customer_also_passes_tier_2(v2):
    rules = resolved(v2)
    tier2_only = type(rules)(tuple(g for g in rules.groups if g.level == 2))
    for metrics, tier in CUSTOMERS.values():
        if tier == 3:
            assert decide(metrics, tier2_only).level == 2


def a_business(customers=250, seed=3):
    """Repeat and one-time buyers with spread-out spend, a few complainers."""
    rng = random.Random(seed)
    products = [ProductFactory(category=c) for c in ["a", "b", "c", "d"]]
    for n in range(customers):
        customer = CustomerFactory(signed_up_on=dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(1200)))
        scale = rng.lognormvariate(4, 1.2)
        for _ in range(rng.choice([1, 2, 4, 6, 9, 12])):
            day = customer.signed_up_on + dt.timedelta(
                days=rng.randrange(max(1, (dt.date(2026, 11, 22) - customer.signed_up_on).days))
            )
            amount = D(str(round(scale * rng.uniform(0.5, 1.5), 2)))
            buy(
                customer,
                at(day.isoformat()),
                amount=str(amount),
                cost=str(round(amount * D("0.6"), 2)),
                product=rng.choice(products),
            )
        if n % 25 == 0:
            complain(customer, at("2026-06-01"), compensation=str(round(scale, 2)))


def test_a_business_gets_the_same_tiers_in_a_currency_100_times_smaller():
    a_business()
    as_of = dt.date(2026, 11, 22)
    retier_all(as_of=as_of)
    before = dict(CustomerMetrics.objects.values_list("customer_id", "tier"))
    with connection.cursor() as cursor:  # every amount, cost and compensation in the smaller unit
        cursor.execute("UPDATE customers_orderline SET amount = amount * 100, cost = cost * 100")
        cursor.execute("UPDATE customers_ticket SET compensation = compensation * 100")

    run = retier_all(as_of=as_of)

    assert run.cuts and all(c["cut"] is not None for c in run.cuts)  # cuts, not floors, decided
    assert dict(CustomerMetrics.objects.values_list("customer_id", "tier")) == before
    assert len(before) == Customer.objects.count() and set(before.values()) == {1, 2, 3}
