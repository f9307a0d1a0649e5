"""targets_queryset: each filter a marketer sets narrows the audience the way they would expect."""

import datetime as dt

import pytest
from django.apps import apps
from django.utils import timezone

from customers.models import Ticket
from promotions.filters import TargetFilters
from promotions.selectors import FollowUpFilterUnavailable, targets_queryset
from tests.factories import CustomerMetricsFactory, OrderLineFactory, ProductFactory, TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


def targeted(**filters):
    return set(targets_queryset(filters=TargetFilters(**filters)).values_list("customer__external_id", flat=True))


def metrics(external_id, tier=2, **fields):
    return CustomerMetricsFactory(customer__external_id=external_id, tier=tier, **fields)


def test_tiers_2_and_3_are_targeted_by_default_and_tier_1_is_not():
    metrics("low", tier=1), metrics("loyal", tier=2), metrics("lifetime", tier=3)
    assert targeted() == {"loyal", "lifetime"}


def test_tier_1_is_targeted_only_when_asked_for():
    metrics("low", tier=1), metrics("loyal", tier=2)
    assert targeted(tiers=(1,)) == {"low"}
    assert targeted(tiers=(1, 2)) == {"low", "loyal"}


def test_active_within_keeps_customers_who_ordered_in_that_many_days():
    now = timezone.now()
    metrics("recent", last_order_at=now - dt.timedelta(days=10))
    metrics("old", last_order_at=now - dt.timedelta(days=100))
    metrics("never", last_order_at=None)
    assert targeted(active_within_days=30) == {"recent"}


def test_lapsed_keeps_customers_with_no_order_for_more_than_that_many_days():
    now = timezone.now()
    metrics("recent", last_order_at=now - dt.timedelta(days=10))
    metrics("old", last_order_at=now - dt.timedelta(days=100))
    assert targeted(lapsed_over_days=90) == {"old"}


def _bought(customer, product):
    OrderLineFactory(order__customer=customer, product=product)


def test_bought_and_never_bought_a_category():
    analytics = ProductFactory(category="analytics")
    has = metrics("has").customer
    _bought(has, analytics)
    _bought(metrics("other").customer, ProductFactory(category="hardware"))
    metrics("nothing")
    assert targeted(bought_category="analytics") == {"has"}
    assert targeted(not_bought_category="analytics") == {"other", "nothing"}


def test_tier_3_customers_who_do_not_have_the_new_add_on_yet():
    add_on = ProductFactory(name="Analytics add-on")
    _bought(metrics("has-it", tier=3).customer, add_on)
    _bought(metrics("loyal-has-it", tier=2).customer, add_on)
    metrics("lacks-it", tier=3)
    metrics("loyal-lacks-it", tier=2)
    assert targeted(tiers=(3,), not_bought_product_id=add_on.pk) == {"lacks-it"}
    assert targeted(bought_product_id=add_on.pk) == {"has-it", "loyal-has-it"}


def test_account_manager_keeps_only_their_customers():
    ann = UserFactory(role="Account manager")
    metrics("ann's", customer__account_manager=ann)
    metrics("someone else's", customer__account_manager=UserFactory(role="Account manager"))
    metrics("nobody's")
    assert targeted(account_manager_id=ann.pk) == {"ann's"}


def test_excluding_open_complaints_leaves_out_only_pending_complaints():
    pending = metrics("pending").customer
    TicketFactory(customer=pending, kind=Ticket.Kind.COMPLAINT, outcome=Ticket.Outcome.PENDING)
    TicketFactory(customer=metrics("settled").customer, kind=Ticket.Kind.COMPLAINT, outcome=Ticket.Outcome.REJECTED)
    TicketFactory(customer=metrics("asking").customer, kind=Ticket.Kind.QUESTION, outcome=Ticket.Outcome.PENDING)
    assert targeted(exclude_open_complaint=True) == {"settled", "asking"}
    assert targeted() == {"pending", "settled", "asking"}


def test_filters_combine():
    now = timezone.now()
    analytics = ProductFactory(category="analytics")
    both = metrics("both", tier=3, last_order_at=now - dt.timedelta(days=5)).customer
    _bought(both, analytics)
    _bought(metrics("stale", tier=3, last_order_at=now - dt.timedelta(days=400)).customer, analytics)
    metrics("no-analytics", tier=3, last_order_at=now - dt.timedelta(days=5))
    assert targeted(tiers=(3,), active_within_days=30, bought_category="analytics") == {"both"}


@pytest.mark.skipif(apps.is_installed("churn"), reason="the churn app is installed here")
def test_excluding_open_follow_ups_is_refused_while_the_churn_app_is_absent():
    with pytest.raises(FollowUpFilterUnavailable, match="churn app"):
        targets_queryset(filters=TargetFilters(exclude_open_follow_up=True))


def test_the_targets_come_in_customer_order_so_every_export_is_the_same_file():
    ids = [metrics(f"c{i}").customer_id for i in range(5)]
    assert list(targets_queryset().values_list("customer_id", flat=True)) == sorted(ids)


def test_a_saved_promotion_and_its_filters_select_the_same_customers():
    from promotions.models import Promotion

    metrics("low", tier=1), metrics("lifetime", tier=3)
    promotion = Promotion.objects.create(
        name="Spring", starts_on=dt.date(2026, 3, 1), ends_on=dt.date(2026, 3, 31), tiers=[3]
    )
    assert list(targets_queryset(promotion=promotion)) == list(targets_queryset(filters=TargetFilters(tiers=(3,))))
