import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import OrderFactory, OrderLineFactory, ProductFactory, TicketFactory
from tiering.models import Condition, RetierRun, RuleGroup, RuleSet, Tier, TierChange

from .conftest import at

pytestmark = pytest.mark.django_db


def url(metrics):
    return reverse("dashboard:customer", args=[metrics.customer_id])


@pytest.fixture
def rules_in_force(db):
    RuleSet.objects.filter(status="published").update(status="retired")  # the default rules, from a migration
    ruleset = RuleSet.objects.create(version=99, status="published")
    lifetime = RuleGroup.objects.create(ruleset=ruleset, tier=Tier.objects.get(level=3), match="all")
    Condition.objects.create(group=lifetime, metric="net_margin", op="gte", value=Decimal("5000"))
    Condition.objects.create(group=lifetime, metric="orders", op="gte", value=Decimal("10"))
    loyal = RuleGroup.objects.create(ruleset=ruleset, tier=Tier.objects.get(level=2), match="all")
    Condition.objects.create(group=loyal, metric="net_margin", op="gt", value=Decimal("0"))
    return ruleset


def test_it_shows_the_tier_and_since_when(as_manager, make_metrics):
    metrics = make_metrics(tier=3, name="Grace Hopper", tier_since=at("2025-04-02T02:00:00"))

    body = as_manager.get(url(metrics)).content.decode()

    assert "Grace Hopper" in body
    assert "3 · Lifetime" in body
    assert "since 2 Apr 2025" in body


def test_it_explains_each_condition_of_the_rules_in_force_in_plain_words(as_manager, make_metrics, rules_in_force):
    metrics = make_metrics(tier=2, revenue="4000.00", net_margin="1234.50", orders=12)

    body = as_manager.get(url(metrics)).content.decode()

    assert "Rule set v99 in force" in body
    assert "<strong>Net margin</strong> is €1,234.50; needs at least €5,000.00." in body
    assert "<strong>Orders</strong> is 12; needs at least 10." in body
    assert "<strong>Net margin</strong> is €1,234.50; needs more than €0.00." in body
    assert body.count("✗ not held") == 1 and body.count("✓ held") == 2
    assert "placed here" in body
    assert "In tier 2: this tier&#x27;s rules hold. For tier 3 they miss on net margin." in body


def test_it_says_when_the_rules_now_place_a_customer_lower_during_the_grace_period(
    as_manager, make_metrics, rules_in_force
):
    metrics = make_metrics(tier=3, net_margin="100.00", orders=3, below_runs=1)

    body = as_manager.get(url(metrics)).content.decode()

    assert "place them in tier 2; they keep tier 3 during the grace period (1 run below so far)" in body


def test_it_says_when_no_rule_set_is_in_force(as_manager, make_metrics):
    RuleSet.objects.filter(status="published").update(status="retired")
    body = as_manager.get(url(make_metrics())).content.decode()
    assert "No rule set is in force" in body


def test_it_shows_the_tier_history_with_the_why_of_each_change(as_manager, make_metrics):
    metrics = make_metrics(tier=3)
    run = RetierRun.objects.create(as_of="2026-10-01", status="succeeded")
    why = {
        "tier": 3,
        "version": 1,
        "groups": [
            {
                "level": 3,
                "match": "all",
                "held": True,
                "conditions": [
                    {"metric": "net_margin", "op": "gte", "threshold": "5000", "value": "6100.00", "held": True}
                ],
            }
        ],
    }
    TierChange.objects.create(
        customer=metrics.customer, run=run, from_tier=2, to_tier=3, changed_at=at("2026-10-01T02:00:00"), why=why
    )

    body = as_manager.get(url(metrics)).content.decode()

    assert "1 Oct 2026" in body and f"run {run.pk}" in body
    assert "<strong>Net margin</strong> was €6,100.00; needs at least €5,000.00." in body


def test_a_backfilled_change_says_so_and_names_its_month_end(as_manager, make_metrics):
    metrics = make_metrics(tier=3)
    TierChange.objects.create(
        customer=metrics.customer, run=None, from_tier=None, to_tier=3, changed_at=at("2025-10-01T00:00:00"),
        why={}, backfilled=True,
    )  # fmt: skip

    body = as_manager.get(url(metrics)).content.decode()

    assert "backfilled</span>: the tier at the month end 30 Sep 2025" in body


def test_it_shows_recent_orders_with_their_lines_and_tickets(as_manager, make_metrics):
    metrics = make_metrics()
    order = OrderFactory(customer=metrics.customer, order_id="ORD-77", placed_at=at("2026-09-03T10:00:00"))
    OrderLineFactory(order=order, product=ProductFactory(name="Desk lamp"), quantity=2, amount=Decimal("80.00"))
    OrderLineFactory(order=order, product=ProductFactory(name="Notebook"), amount=Decimal("12.50"))
    TicketFactory(customer=metrics.customer, ticket_id="T-9", compensation=Decimal("15.00"))

    body = as_manager.get(url(metrics)).content.decode()

    assert "ORD-77" in body and "3 Sep 2026" in body
    assert "2 × Desk lamp" in body and "€92.50" in body
    assert "T-9" in body and "Rejected (unfounded)" in body and "€15.00" in body


def test_recent_orders_are_the_newest_ten_newest_first(as_manager, make_metrics):
    metrics = make_metrics()
    for i in range(12):
        order = OrderFactory(
            customer=metrics.customer,
            order_id=f"ORD-{i:02d}",
            placed_at=at("2025-01-01T00:00:00") + dt.timedelta(days=30 * i),
        )
        OrderLineFactory(order=order)

    orders = as_manager.get(url(metrics)).context["orders"]

    assert [o.order_id for o in orders] == [f"ORD-{i:02d}" for i in range(11, 1, -1)]


def test_its_query_count_does_not_grow_with_orders_or_history(
    client, manager, make_metrics, rules_in_force, django_assert_num_queries
):
    client.force_login(manager)
    run = RetierRun.objects.create(as_of="2026-10-01", status="succeeded")
    quiet, busy = make_metrics(), make_metrics()
    for metrics, count in ((quiet, 1), (busy, 15)):
        for i in range(count):
            order = OrderFactory(customer=metrics.customer, placed_at=at("2026-01-01T00:00:00") + dt.timedelta(days=i))
            OrderLineFactory.create_batch(2, order=order)
            TicketFactory(customer=metrics.customer)
            TierChange.objects.create(
                customer=metrics.customer, run=run, from_tier=1, to_tier=2, changed_at=at("2026-01-01T00:00:00")
            )
    for metrics in (quiet, busy):
        # 1 session, 2 user, 3-4 permissions, 5 customer JOIN metrics JOIN manager JOIN churn risk, 6 tiers,
        # 7 tier history (with its runs), 8 those runs' rule set and cuts with the run before each
        # (what moved the customer), 9 rule set in force, 10 its groups with tiers,
        # 11 their conditions, 12 recent orders with totals, 13 their lines with products
        # (skipped when there is no order), 14 tickets, 15 lapses with their follow-ups,
        # assignees and blamed products (one joined query), 16 the menu's open-item count.
        with django_assert_num_queries(16):
            client.get(url(metrics))


def test_a_customer_imported_since_the_last_run_is_not_placed_yet_and_no_command_is_suggested(as_manager):
    from tests.factories import CustomerFactory

    customer = CustomerFactory()
    body = as_manager.get(reverse("dashboard:customer", args=[customer.pk])).content.decode()
    assert "not placed yet" in body
    assert "Not placed yet." in body
    assert "manage.py" not in body and "retier</code>" not in body
    assert "Run re-tier now" not in body  # account managers may not start a run


def test_admins_get_a_button_to_run_the_re_tier_on_a_customer_not_placed_yet(client, admin_user):
    from tests.factories import CustomerFactory

    client.force_login(admin_user)
    body = client.get(reverse("dashboard:customer", args=[CustomerFactory().pk])).content.decode()
    assert "Run re-tier now" in body
    assert f'action="{reverse("tiering:run_now")}"' in body


def test_a_missing_customer_is_not_found(as_manager):
    assert as_manager.get(reverse("dashboard:customer", args=[999999])).status_code == 404


def test_account_managers_may_open_any_customer_not_only_their_own(as_manager, make_user, make_metrics):
    someone_elses = make_metrics(account_manager=make_user("Account manager"))
    assert as_manager.get(url(someone_elses)).status_code == 200


def test_admins_may_open_a_customer(client, admin_user, make_metrics):
    client.force_login(admin_user)
    assert client.get(url(make_metrics())).status_code == 200


def test_marketing_may_not_open_a_customer(client, marketer, make_metrics):
    client.force_login(marketer)
    assert client.get(url(make_metrics())).status_code == 403


def test_the_why_of_an_older_change_loads_on_its_own(as_manager, make_metrics):
    metrics = make_metrics(tier=3)
    run = RetierRun.objects.create(as_of="2026-10-01", status="succeeded")
    why = {
        "tier": 3,
        "version": 1,
        "groups": [
            {
                "level": 3,
                "match": "all",
                "held": True,
                "conditions": [{"metric": "orders", "op": "gte", "threshold": "10", "value": "14", "held": True}],
            }
        ],
    }
    changes = [
        TierChange.objects.create(
            customer=metrics.customer,
            run=run,
            from_tier=2,
            to_tier=3,
            changed_at=at("2026-01-01T02:00:00") + dt.timedelta(days=i),
            why=why,
        )
        for i in range(10)
    ]
    oldest = changes[0]
    why_url = reverse("dashboard:change_why", args=[metrics.customer_id, oldest.pk])

    page = as_manager.get(url(metrics)).content.decode()
    assert page.count("<strong>Orders</strong> was 14") == 8  # the 8 newest inline
    assert f'hx-get="{why_url}"' in page

    assert "<strong>Orders</strong> was 14; needs at least 10." in as_manager.get(why_url).content.decode()


def test_the_why_of_a_change_belongs_to_its_customer(as_manager, make_metrics):
    mine, other = make_metrics(), make_metrics()
    run = RetierRun.objects.create(as_of="2026-10-01", status="succeeded")
    change = TierChange.objects.create(
        customer=other.customer, run=run, from_tier=1, to_tier=2, changed_at=at("2026-01-01T02:00:00")
    )
    assert as_manager.get(reverse("dashboard:change_why", args=[mine.customer_id, change.pk])).status_code == 404
