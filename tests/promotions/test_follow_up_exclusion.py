"""Excluding customers with an open churn follow-up: runs where the churn app is installed."""

import pytest
from django.apps import apps
from django.urls import reverse

from promotions.filters import TargetFilters
from promotions.selectors import targets_queryset
from tests.factories import CustomerMetricsFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not apps.is_installed("churn"), reason="the churn app is not installed on this branch"),
]


def _follow_up(customer, status):
    from tests.churn.factories import FollowUpFactory  # the churn branch's own factory

    return FollowUpFactory(lapse__customer=customer, status=status)


def test_customers_with_an_open_or_contacted_follow_up_are_left_out_and_closed_ones_stay():
    open_one = CustomerMetricsFactory(customer__external_id="open").customer
    contacted = CustomerMetricsFactory(customer__external_id="contacted").customer
    lost = CustomerMetricsFactory(customer__external_id="lost").customer
    CustomerMetricsFactory(customer__external_id="none")
    _follow_up(open_one, "open")
    _follow_up(contacted, "contacted")
    _follow_up(lost, "lost")
    kept = targets_queryset(filters=TargetFilters(exclude_open_follow_up=True))
    assert set(kept.values_list("customer__external_id", flat=True)) == {"lost", "none"}


def test_the_page_offers_the_exclusion(client, make_user):
    client.force_login(make_user(role="Marketing"))
    assert "exclude_open_follow_up" in client.get(reverse("promotions:create")).content.decode()
