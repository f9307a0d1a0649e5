"""Detection runs inside the nightly re-tier, after the new tiers are applied."""

import datetime as dt

import pytest
import time_machine

from churn.models import FollowUp, Lapse
from tests.factories import CustomerFactory, UserFactory
from tests.tiering.retier_helpers import at, buy, publish_rules
from tiering.models import CustomerMetrics
from tiering.services import retier_all

pytestmark = pytest.mark.django_db


def nightly(as_of: dt.date, **kwargs):
    with time_machine.travel(dt.datetime.combine(as_of, dt.time(2), tzinfo=dt.UTC), tick=False):
        return retier_all(as_of=as_of, **kwargs)


def test_a_lifetime_customer_who_went_quiet_is_investigated_though_tonight_places_them_in_tier_1():
    publish_rules(lifetime_revenue="1000")
    manager = UserFactory(role="Account manager")
    star = CustomerFactory(account_manager=manager)
    buy(star, at("2026-03-01"), amount="5000.00")
    nightly(dt.date(2026, 3, 5))  # tier 3 while buying
    buy(star, at("2026-03-10"), amount="5000.00")
    run = nightly(dt.date(2027, 4, 1))  # the 12-month window is empty: the rules say tier 1

    assert CustomerMetrics.objects.get(customer=star).tier == 1
    lapse = Lapse.objects.get(customer=star)
    assert (lapse.run, lapse.tier_while_active, lapse.response) == (run, 3, "Investigate")
    item = FollowUp.objects.get(customer=star)
    assert (item.kind, item.assignee, item.due_on) == (
        "investigate",
        manager,
        dt.date(2027, 4, 5),
    )  # Thu + 2 working days


def test_a_dry_run_detects_nothing():
    publish_rules()
    quiet = CustomerFactory()
    buy(quiet, at("2026-01-01"))
    nightly(dt.date(2026, 11, 20), dry_run=True)
    assert not Lapse.objects.exists()


def test_the_next_run_resolves_the_item_of_a_customer_who_came_back():
    publish_rules(lifetime_revenue="1000")
    star = CustomerFactory()
    buy(star, at("2026-01-01"), amount="5000.00")
    nightly(dt.date(2026, 1, 2))
    nightly(dt.date(2026, 6, 1))
    item = FollowUp.objects.get(customer=star)
    buy(star, at("2026-06-03"))
    nightly(dt.date(2026, 6, 4))
    item.refresh_from_db()
    assert item.status == "returned"
