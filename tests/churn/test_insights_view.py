"""The churn insights page: what drove lost customers away, and what we released before."""

import datetime as dt

import pytest
from django.urls import reverse

from churn import suspects
from churn.selectors import months_before
from tests.churn.factories import FollowUpFactory
from tests.factories import OrderLineFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture
def page(client):
    client.force_login(UserFactory(role="Account manager"))
    return lambda **params: client.get(reverse("churn:insights"), params).content.decode()


def released_before(html: str) -> str:
    """The section "What did we release before they left?" (the suspects above it list every launch)."""
    return html[html.index("What did we release before they left?") :]


def lost(
    *, tier=3, last_order=dt.datetime(2026, 6, 1, tzinfo=UTC), closed=dt.datetime(2026, 10, 5, tzinfo=UTC), **kwargs
):
    return FollowUpFactory(
        status="lost",
        tier=tier,
        closed_at=closed,
        lapse__last_order_at=last_order,
        lapse__tier_while_active=tier,
        **kwargs,
    )


def test_months_before_clamps_to_the_end_of_a_shorter_month():
    assert months_before(dt.date(2026, 5, 31), 3) == dt.date(2026, 2, 28)
    assert months_before(dt.date(2026, 1, 15), 3) == dt.date(2025, 10, 15)


def test_it_counts_lost_customers_by_cause_and_product_per_month(page):
    sync = ProductFactory(name="Sync Two")
    lost(cause_category="new_product", cause_product=sync)
    lost(tier=2, cause_category="new_product", cause_product=sync)
    lost(cause_category="price")
    lost(tier=1, cause_category="price")  # a tier-1 loss is no real loss: not counted
    FollowUpFactory(status="contacted")
    html = page()
    assert html.count('<td class="num">') >= 4
    assert "new product" in html and "Sync Two" in html
    assert '"labels": ["2026-10"]' in html  # the chart data


def test_it_lists_what_was_launched_before_each_lost_tier_3_customer_stopped(page):
    before = ProductFactory(name="Launched in April", launched_on=dt.date(2026, 4, 10))
    ProductFactory(name="Too early", launched_on=dt.date(2025, 12, 1))
    ProductFactory(name="After they left", launched_on=dt.date(2026, 7, 1))
    first = lost(cause_category="product_change", lapse__customer__name="Acme")
    lost(cause_category="service", lapse__customer__name="Beta", last_order=dt.datetime(2026, 5, 20, tzinfo=UTC))
    OrderLineFactory(order__customer=first.customer, product=before)
    html = page(months=3)
    releases = html[html.index('id="lost-tier-3"') :]
    assert "Launched in April" in releases and "Too early" not in releases and "After they left" not in releases
    assert "(2 · ✓ bought)" in releases  # Acme bought it; it preceded both lost customers
    ranking = html[html.index('id="recurring-releases"') : html.index('id="lost-tier-3"')]
    assert "Launched in April" in ranking and '<td class="num">2</td>' in ranking


def test_it_lists_the_changes_released_before_they_stopped_and_how_often_they_recur(page):
    from churn.models import Release

    Release.objects.create(
        title="Self-service only support",
        kind="service",
        released_on=dt.date(2026, 5, 1),
        product=ProductFactory(name="Helpdesk"),
    )
    Release.objects.create(title="Old price list", kind="price", released_on=dt.date(2025, 1, 1))
    lost(cause_category="service", lapse__customer__name="Acme")
    lost(cause_category="service", lapse__customer__name="Beta")
    html = page(months=3)
    ranking = html[html.index('id="recurring-changes"') : html.index('id="lost-tier-3"')]
    assert "Self-service only support" in ranking and "(Helpdesk)" in ranking and '<td class="num">2</td>' in ranking
    assert "Old price list" not in released_before(html)


def test_a_longer_window_reaches_further_back(page):
    ProductFactory(name="Too early", launched_on=dt.date(2025, 12, 1))
    lost(cause_category="price")
    assert "Too early" not in released_before(page(months=3))
    assert "Too early" in released_before(page(months=7))


def test_the_page_is_a_fixed_number_of_queries(client, django_assert_num_queries):
    client.force_login(UserFactory(role="Marketing"))
    for _ in range(6):
        lost(cause_category="price", cause_product=ProductFactory(launched_on=dt.date(2026, 5, 1)))
    from churn.models import Release

    Release.objects.create(
        title="New billing", kind="method_change", released_on=dt.date(2026, 5, 2), product=ProductFactory()
    )
    suspects.refresh(as_of=suspects.default_as_of(), tiers=(3,))
    # session, user, user permissions, group permissions, by cause, by product, lost tier-3 items,
    # products launched in their windows, changes released then (with product), which products they bought,
    # the run in force (the suspects' date), the stored suspects analysis (nothing flagged: no exposures asked)
    with django_assert_num_queries(12):
        assert client.get(reverse("churn:insights")).status_code == 200


def test_with_nothing_lost_yet_it_says_so(page):
    assert "No tier-3 customer closed as lost yet" in page()
