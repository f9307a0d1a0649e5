"""Nightly detection: who has lapsed, which tier decides, what each tier's lapse creates."""

import datetime as dt
from decimal import Decimal

import pytest

from churn import policy
from churn.models import ChurnPolicy, FollowUp, Lapse
from churn.services import detect_churn
from tests.churn.factories import FollowUpFactory, RetierRunFactory, TierChangeFactory
from tests.factories import CustomerMetricsFactory, UserFactory

UTC = dt.UTC
AS_OF = dt.date(2026, 11, 20)  # a Friday
NOW = dt.datetime(2026, 11, 20, 2, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def quiet_customer(*, days: int, tier: int, median_gap=None, manager=None, **kwargs):
    """A customer whose last order was `days` before the run, holding `tier` tonight."""
    metrics = CustomerMetricsFactory(
        changed_as_of=AS_OF,
        tier=tier,
        days_since_last_order=days,
        last_order_at=dt.datetime.combine(AS_OF - dt.timedelta(days=days), dt.time(12), tzinfo=UTC),
        median_gap_days=None if median_gap is None else Decimal(median_gap),
        **kwargs,
    )
    if manager:
        metrics.customer.account_manager = manager
        metrics.customer.save()
    return metrics


def detect(now=NOW, as_of=AS_OF):
    return detect_churn(run_id=RetierRunFactory(as_of=as_of).pk, as_of=as_of, now=now)


def test_the_sql_rule_agrees_with_the_pure_function_at_the_boundaries():
    cases = [(days, gap) for days in (89, 90, 91, 92, 93, 150, 151) for gap in (None, "10", "37", "60")]
    customers = {quiet_customer(days=d, tier=2, median_gap=g).customer_id: (d, g) for d, g in cases}
    detect()
    found = set(Lapse.objects.values_list("customer_id", flat=True))
    for customer_id, (days, gap) in customers.items():
        expected = policy.is_lapsed(
            days_since_last_order=days,
            min_days=90,
            gap_multiple=Decimal("2.5"),
            median_gap_days=None if gap is None else Decimal(gap),
        )
        assert (customer_id in found) == expected, (days, gap)


def test_the_policy_the_admin_edited_is_the_one_applied():
    ChurnPolicy.objects.filter(pk=1).update(min_days=30)
    quiet_customer(days=31, tier=2)
    detect()
    assert Lapse.objects.count() == 1


def test_customers_who_never_ordered_are_not_lapsed():
    CustomerMetricsFactory(changed_as_of=AS_OF, tier=1, days_since_last_order=None, last_order_at=None)
    detect()
    assert not Lapse.objects.exists()


def test_a_lifetime_customer_downgraded_by_their_silence_is_a_tier_3_loss():
    m = quiet_customer(days=120, tier=1)
    last_order = m.last_order_at
    TierChangeFactory(customer=m.customer, from_tier=2, to_tier=3, changed_at=last_order - dt.timedelta(days=300))
    TierChangeFactory(customer=m.customer, from_tier=3, to_tier=2, changed_at=last_order + dt.timedelta(days=40))
    TierChangeFactory(customer=m.customer, from_tier=2, to_tier=1, changed_at=last_order + dt.timedelta(days=80))
    detect()
    lapse = Lapse.objects.get()
    assert lapse.tier_while_active == 3
    assert lapse.follow_up.kind == "investigate"


def test_a_tier_held_only_more_than_12_months_before_the_last_order_does_not_decide():
    m = quiet_customer(days=120, tier=1)
    TierChangeFactory(
        customer=m.customer, from_tier=None, to_tier=3, changed_at=m.last_order_at - dt.timedelta(days=500)
    )
    TierChangeFactory(customer=m.customer, from_tier=3, to_tier=2, changed_at=m.last_order_at - dt.timedelta(days=400))
    detect()
    assert Lapse.objects.get().tier_while_active == 2


def test_the_highest_tier_held_in_the_12_months_before_the_last_order_decides():
    m = quiet_customer(days=120, tier=1)
    TierChangeFactory(
        customer=m.customer, from_tier=None, to_tier=3, changed_at=m.last_order_at - dt.timedelta(days=500)
    )
    TierChangeFactory(customer=m.customer, from_tier=3, to_tier=2, changed_at=m.last_order_at - dt.timedelta(days=100))
    TierChangeFactory(customer=m.customer, from_tier=2, to_tier=1, changed_at=m.last_order_at)  # same moment
    detect()
    assert Lapse.objects.get().tier_while_active == 3  # held as the 12 months began


def test_a_tier_reached_and_lost_within_the_12_months_decides():
    m = quiet_customer(days=120, tier=1)
    TierChangeFactory(
        customer=m.customer, from_tier=None, to_tier=2, changed_at=m.last_order_at - dt.timedelta(days=900)
    )
    TierChangeFactory(customer=m.customer, from_tier=2, to_tier=3, changed_at=m.last_order_at - dt.timedelta(days=200))
    TierChangeFactory(customer=m.customer, from_tier=3, to_tier=2, changed_at=m.last_order_at - dt.timedelta(days=60))
    TierChangeFactory(customer=m.customer, from_tier=2, to_tier=1, changed_at=m.last_order_at + dt.timedelta(days=30))
    detect()
    assert Lapse.objects.get().tier_while_active == 3


def test_the_sql_and_the_pure_rule_agree_on_random_histories():
    import random

    rng = random.Random(3)
    expected = {}
    for _ in range(60):
        current = rng.choice([1, 2, 3])
        m = quiet_customer(days=120, tier=current)
        held, when, changes = None, m.last_order_at - dt.timedelta(days=rng.randrange(300, 900)), []
        for _ in range(rng.randrange(0, 5)):
            to = rng.choice([t for t in (1, 2, 3) if t != held])
            TierChangeFactory(customer=m.customer, from_tier=held, to_tier=to, changed_at=when)
            changes.append((when, held, to))
            held, when = to, when + dt.timedelta(days=rng.choice([1, 30, 100, 180, 365]))
        tier = policy.tier_held_before(changes, last_order_at=m.last_order_at)
        expected[m.customer_id] = policy.tier_while_active(tier_at_last_order=tier, current_tier=current)
    detect()
    assert dict(Lapse.objects.values_list("customer_id", "tier_while_active")) == expected


def test_when_every_change_came_after_the_last_order_the_tier_going_into_them_decides():
    m = quiet_customer(days=200, tier=1)
    TierChangeFactory(customer=m.customer, from_tier=3, to_tier=1, changed_at=m.last_order_at + dt.timedelta(days=100))
    detect()
    assert Lapse.objects.get().tier_while_active == 3


def test_without_any_history_the_current_tier_decides():
    quiet_customer(days=120, tier=2)
    detect()
    assert Lapse.objects.get().tier_while_active == 2


def test_an_upgrade_since_the_last_order_is_kept():
    m = quiet_customer(days=120, tier=3)
    TierChangeFactory(
        customer=m.customer, from_tier=None, to_tier=2, changed_at=m.last_order_at - dt.timedelta(days=30)
    )
    TierChangeFactory(customer=m.customer, from_tier=2, to_tier=3, changed_at=m.last_order_at + dt.timedelta(days=30))
    detect()
    assert Lapse.objects.get().tier_while_active == 3


def test_a_tier_3_lapse_is_an_investigation_for_the_account_manager_due_in_two_working_days():
    manager = UserFactory(role="Account manager")
    m = quiet_customer(days=120, tier=3, manager=manager)
    detect()
    item = FollowUp.objects.get(customer=m.customer)
    assert (item.kind, item.priority, item.status, item.tier) == ("investigate", "high", "open", 3)
    assert item.assignee == manager
    assert item.due_on == dt.date(2026, 11, 24)  # Friday + 2 working days, over the weekend
    assert item.lapse.response == "Investigate"


def test_a_tier_3_customer_without_account_manager_goes_to_the_team_queue():
    quiet_customer(days=120, tier=3)
    detect()
    assert FollowUp.objects.get().assignee is None


def test_a_tier_2_lapse_is_a_win_back_in_the_team_queue_due_in_seven_days():
    m = quiet_customer(days=120, tier=2, manager=UserFactory(role="Account manager"))
    detect()
    item = FollowUp.objects.get(customer=m.customer)
    assert (item.kind, item.priority, item.assignee, item.due_on) == ("win_back", "normal", None, dt.date(2026, 11, 27))


def test_a_tier_1_lapse_is_recorded_with_no_work_item():
    m = quiet_customer(days=120, tier=1)
    result = detect()
    lapse = Lapse.objects.get(customer=m.customer)
    assert lapse.response == "no action: tier 1"
    assert not FollowUp.objects.exists()
    assert result.lapses == 1


def test_detecting_the_same_lapse_again_never_duplicates_it():
    quiet_customer(days=120, tier=3)
    detect()
    detect(now=NOW + dt.timedelta(days=1), as_of=AS_OF + dt.timedelta(days=1))
    assert Lapse.objects.count() == 1
    assert FollowUp.objects.count() == 1


def test_a_customer_with_an_open_item_gets_no_second_one():
    # An order was corrected away in the import: the last order moved back, so tonight's lapse is
    # a new one, but the customer's open item is still the one to work.
    m = quiet_customer(days=120, tier=3)
    FollowUpFactory(lapse__customer=m.customer, lapse__last_order_at=m.last_order_at + dt.timedelta(days=20))
    detect()
    assert FollowUp.objects.filter(customer=m.customer).count() == 1
    assert Lapse.objects.filter(customer=m.customer).count() == 2


def test_a_customer_who_orders_again_has_their_open_item_resolved_as_returned():
    m = quiet_customer(days=120, tier=3)
    detect()
    item = FollowUp.objects.get()
    m.last_order_at = dt.datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    m.save()
    result = detect(now=NOW + dt.timedelta(days=6), as_of=AS_OF + dt.timedelta(days=6))
    item.refresh_from_db()
    assert item.status == "returned"
    assert item.closed_at == NOW + dt.timedelta(days=6)
    assert item.version == 2
    assert item.lapse.returned_at is not None
    assert result.returned == 1


def test_closed_items_stay_closed_when_the_customer_returns():
    m = quiet_customer(days=1, tier=3)
    item = FollowUpFactory(
        lapse__customer=m.customer, status="lost", lapse__last_order_at=m.last_order_at - dt.timedelta(days=200)
    )
    detect()
    item.refresh_from_db()
    assert item.status == "lost"


def test_a_customer_who_returned_and_lapsed_again_gets_a_new_item():
    m = quiet_customer(days=120, tier=2)
    FollowUpFactory(
        lapse__customer=m.customer, status="returned", lapse__last_order_at=m.last_order_at - dt.timedelta(days=400)
    )
    detect()
    assert FollowUp.objects.filter(customer=m.customer, status="open").count() == 1


def test_detection_is_a_fixed_number_of_statements_whatever_the_population(django_assert_max_num_queries):
    for i in range(30):
        quiet_customer(days=100 + i, tier=1 + i % 3)
    run = RetierRunFactory()
    # savepoint + release, churn policy, follow-up policies, SET LOCAL jit, returned items,
    # returned lapses, the lapse watch (state checked, state locked, rebuild: truncate + insert,
    # state saved), the new lapses (drop, create as, insert), one follow-up insert per tier with
    # an action (2)
    with django_assert_max_num_queries(17):
        detect_churn(run_id=run.pk, as_of=AS_OF, now=NOW)
    assert Lapse.objects.count() == 30
    assert FollowUp.objects.count() == 20
