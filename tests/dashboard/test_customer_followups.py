import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.churn.factories import FollowUpFactory, LapseFactory
from tests.factories import ProductFactory

from .conftest import at

pytestmark = pytest.mark.django_db


def url(customer):
    return reverse("dashboard:customer", args=[customer.pk])


def test_it_lists_open_and_past_follow_ups_and_lapses_newest_first(as_manager, make_metrics, manager):
    customer = make_metrics(tier=3).customer
    product = ProductFactory(name="Subscription Box Mk2")
    old = LapseFactory(
        customer=customer,
        detected_at=at("2025-01-10T02:00:00"),
        last_order_at=at("2024-09-01T10:00:00"),
        returned_at=at("2025-03-01T02:00:00"),
    )
    FollowUpFactory(
        lapse=old,
        status="lost",
        cause_category="new_product",
        cause_product=product,
        cause_text="Hated the new box",
        notes="Called twice",
        closed_at=at("2025-02-01T09:00:00"),
    )
    LapseFactory(
        customer=customer,
        tier_while_active=1,
        response="no action: tier 1",
        detected_at=at("2025-06-10T02:00:00"),
        last_order_at=at("2025-03-01T10:00:00"),
        returned_at=at("2025-07-01T02:00:00"),
    )
    current = LapseFactory(
        customer=customer, detected_at=at("2026-11-02T02:00:00"), last_order_at=at("2026-06-01T12:00:00")
    )
    open_item = FollowUpFactory(lapse=current, assignee=manager, due_on=timezone.localdate() - dt.timedelta(days=1))

    body = as_manager.get(url(customer)).content.decode()

    newest, middle, oldest = body.index("1 Jun 2026"), body.index("1 Mar 2025"), body.index("1 Sep 2024")
    assert newest < middle < oldest
    assert "Investigate" in body and "overdue" in body and "Amira Haddad" in body
    assert "no action: tier 1" in body
    assert "New product: Subscription Box Mk2 — Hated the new box" in body
    assert "Called twice" in body
    assert f'href="/churn/team/?assignee=&amp;customer={customer.pk}#follow-up-{open_item.pk}"' in body
    assert body.count("Work this item in the queue") == 1  # only the open one


def test_the_work_link_opens_the_queue_on_this_customers_item(as_manager, make_metrics):
    customer = make_metrics(tier=2).customer
    mine = FollowUpFactory(lapse=LapseFactory(customer=customer, tier_while_active=2))
    other = FollowUpFactory(lapse=LapseFactory(tier_while_active=2))

    page = as_manager.get(f"/churn/team/?assignee=&customer={customer.pk}").content.decode()

    assert f'id="follow-up-{mine.pk}"' in page and f'id="follow-up-{other.pk}"' not in page
    assert "Showing one customer's follow-ups" in page


def test_without_lapses_it_says_what_happens_when_the_customer_stops_buying(as_manager, make_metrics):
    body = as_manager.get(url(make_metrics().customer)).content.decode()
    assert "No follow-ups yet" in body
    assert "the nightly run records it here" in body
