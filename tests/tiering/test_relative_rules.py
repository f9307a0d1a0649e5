"""Relative thresholds: each run resolves a percentile of the population to one cut, keeps it on
the run record, and the history's why shows it; nested groups decide on stored rule sets too."""

import datetime as dt
from decimal import Decimal as D

import pytest

from customers.models import Customer
from tests.factories import CustomerFactory
from tests.tiering.retier_helpers import at, buy
from tests.tiering.rulesets import make_ruleset
from tiering.catalogue import min_eligible
from tiering.models import CustomerMetrics, TierChange
from tiering.preview import preview_ruleset, rules_as_applied
from tiering.rules import describe_why
from tiering.services import retier_all

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 22)


def customers_spending(amounts):
    customers = []
    for amount in amounts:
        customer = CustomerFactory()
        buy(customer, at("2026-06-01"), amount=str(amount), cost="0")
        customers.append(customer)
    return customers


def tiers_of(customers):
    held = dict(CustomerMetrics.objects.values_list("customer_id", "tier"))
    return [held[c.pk] for c in customers]


def test_a_run_places_the_customers_at_or_above_the_percentile_and_keeps_the_cut_on_its_record():
    customers = customers_spending(range(1, 101))  # revenue 1 .. 100
    make_ruleset({3: ("all", [("revenue", "gte", 0, 98, "everyone")])}, status="published")

    run = retier_all(as_of=AS_OF)

    assert run.cuts == [
        {"metric": "revenue", "population": "everyone", "percentile": "98", "cut": "98", "eligible": 100}
    ]
    assert [c.pk for c, tier in zip(customers, tiers_of(customers)) if tier == 3] == [c.pk for c in customers[97:]]
    why = TierChange.objects.get(run=run, customer=customers[-1]).why
    condition = describe_why(why)[0]["conditions"][0]
    assert condition["text"] == "Revenue ≥ €98"
    assert condition["cut"] == "the 98th percentile of all customers in this run"


def test_customers_tied_at_the_cut_all_land_on_the_same_side():
    customers = customers_spending([10] * 120 + [50] * 5)
    make_ruleset({3: ("all", [("revenue", "gte", 0, 90, "everyone")])}, status="published")

    run = retier_all(as_of=AS_OF)

    assert run.cuts[0]["cut"] == "10"
    assert set(tiers_of(customers)) == {3}  # nobody tied at 10 is split from the others


def test_below_the_minimum_population_the_floor_applies_and_the_why_says_so():
    customers = customers_spending([100, 600, 900])
    make_ruleset({3: ("all", [("revenue", "gte", 500, 98, "everyone")])}, status="published")

    run = retier_all(as_of=AS_OF)

    assert run.cuts == [{"metric": "revenue", "population": "everyone", "percentile": "98", "cut": None, "eligible": 3}]
    assert tiers_of(customers) == [1, 3, 3]
    condition = describe_why(TierChange.objects.get(run=run, customer=customers[1]).why)[0]["conditions"][0]
    assert condition["text"] == "Revenue ≥ €500"
    assert condition["cut"] == "the floor: only 3 eligible customers, too few for the 98th percentile of all customers"
    assert min_eligible(D(98)) == 50 > 3


def test_a_floor_above_the_cut_is_the_threshold():
    customers_spending(range(1, 101))
    make_ruleset({3: ("all", [("revenue", "gte", 99.5, 50, "everyone")])}, status="published")

    run = retier_all(as_of=AS_OF)

    assert run.counts == {"1": 99, "3": 1}
    why = TierChange.objects.filter(run=run, to_tier=3).get().why
    assert (
        describe_why(why)[0]["conditions"][0]["cut"]
        == "the floor: the 50th percentile of all customers in this run is €50"
    )


def test_the_population_is_whom_the_percentile_is_taken_over():
    once = customers_spending([1000] * 100)
    twice = customers_spending([10] * 100)
    for customer in twice:
        buy(customer, at("2026-07-01"), amount="10", cost="0")
    make_ruleset({3: ("all", [("revenue", "gte", 0, 50, "repeat")])}, status="published")

    run = retier_all(as_of=AS_OF)

    assert run.cuts[0] | {} == {
        "metric": "revenue",
        "population": "repeat",
        "percentile": "50",
        "cut": "20",
        "eligible": 100,
    }
    assert set(tiers_of(once)) == {3} and set(tiers_of(twice)) == {3}


def test_nested_groups_decide_a_stored_rule_set():
    big, steady, neither = customers_spending([5000, 100, 100])
    for day in ["2026-07-01", "2026-08-01"]:
        buy(steady, at(day), amount="100", cost="0")
    tier3 = ("all", [("orders", "gte", 1), ("any", [("revenue", "gte", 1000), ("all", [("orders", "gte", 3)])])])
    make_ruleset({3: tier3}, status="published")

    retier_all(as_of=AS_OF)

    assert tiers_of([big, steady, neither]) == [3, 3, 1]


def test_the_preview_resolves_the_cut_over_the_stored_metrics():
    customers_spending(range(1, 101))
    retier_all(as_of=AS_OF)
    draft = make_ruleset({3: ("all", [("revenue", "gte", 0, 95, "everyone")])})

    preview = preview_ruleset(ruleset=draft)

    assert sum(n for (_, to), n in preview.matrix.items() if to == 3) == 6  # 95 .. 100


def test_a_percentile_is_taken_once_the_share_above_it_can_hold_a_customer():
    customers = customers_spending(range(1, 11))  # 10 customers: the 90th percentile is the 9th value
    make_ruleset(
        {3: ("all", [("revenue", "gte", 0, 90, "everyone"), ("revenue", "gte", 0, 95, "everyone")])}, status="published"
    )

    run = retier_all(as_of=AS_OF)

    assert [(c["percentile"], c["cut"]) for c in run.cuts] == [("90", "9"), ("95", None)]  # the 95th needs 20
    assert tiers_of(customers) == [1] * 8 + [3, 3]


def test_pages_explain_with_the_cuts_the_run_in_force_used_or_resolve_them_for_rules_not_yet_run():
    customers_spending(range(1, 101))
    ruleset = make_ruleset({3: ("all", [("revenue", "gte", 0, 98, "everyone")])}, status="published")
    retier_all(as_of=AS_OF)
    CustomerMetrics.objects.filter(customer__in=Customer.objects.order_by("-id")[:10]).update(revenue=0)

    [kept] = rules_as_applied(ruleset=ruleset).conditions()  # the run's cut, not tonight's metrics
    newer = make_ruleset({3: ("all", [("revenue", "gte", 0, 50, "everyone")])}, status="published")
    [resolved] = rules_as_applied(ruleset=newer).conditions()  # no run yet: over the stored metrics

    assert (kept.threshold, resolved.threshold) == (98, 40)  # ten at 0, then 1 .. 90: the 50th value is 40
