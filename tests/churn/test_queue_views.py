"""The queue pages and the in-place changes made from them."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from churn.models import FollowUp
from tests.churn.factories import FollowUpFactory
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
TODAY = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def manager(client):
    user = UserFactory(role="Account manager", username="ann")
    client.force_login(user)
    return user


def post_status(client, item, to, version=None, **data):
    return client.post(
        reverse("churn:change_status", args=[item.pk]), {"to": to, "version": version or item.version, **data}, **HTMX
    )


@time_machine.travel(TODAY, tick=False)
def test_my_queue_lists_my_items_by_tier_then_due_date_and_marks_overdue(client, manager):
    FollowUpFactory(
        assignee=manager, tier=2, kind="win_back", due_on=dt.date(2026, 11, 20), lapse__customer__name="Two early"
    )
    FollowUpFactory(assignee=manager, tier=3, due_on=dt.date(2026, 11, 30), lapse__customer__name="Three late")
    FollowUpFactory(assignee=manager, tier=3, due_on=dt.date(2026, 11, 24), lapse__customer__name="Three early")
    FollowUpFactory(assignee=None, lapse__customer__name="Unassigned")
    FollowUpFactory(assignee=manager, status="lost", lapse__customer__name="Closed")
    html = client.get(reverse("churn:my_queue")).content.decode()
    names = ["Three early", "Three late", "Two early"]
    assert [html.index(n) for n in names] == sorted(html.index(n) for n in names)
    assert "Unassigned" not in html and "Closed" not in html
    assert html.count("overdue</span>") == 2  # due 20th and 24th, today is the 25th


def test_the_team_queue_shows_unassigned_items_with_a_claim_button(client, manager):
    FollowUpFactory(assignee=None, lapse__customer__name="Nobody's")
    FollowUpFactory(assignee=manager, lapse__customer__name="Mine")
    html = client.get(reverse("churn:team_queue")).content.decode()
    assert "Nobody&#x27;s" in html and "Mine" not in html
    assert ">Claim<" in html


def test_the_team_queue_filters_by_assignee_tier_status_and_due(client, manager):
    FollowUpFactory(assignee=manager, tier=3, lapse__customer__name="Mine three")
    FollowUpFactory(assignee=manager, tier=2, lapse__customer__name="Mine two")
    FollowUpFactory(assignee=manager, tier=3, status="won_back", lapse__customer__name="Mine won")
    html = client.get(reverse("churn:team_queue"), {"assignee": manager.pk, "tier": 3}).content.decode()
    assert "Mine three" in html and "Mine two" not in html and "Mine won" not in html
    html = client.get(reverse("churn:team_queue"), {"assignee": manager.pk, "status": "won_back"}).content.decode()
    assert "Mine won" in html and "Mine three" not in html


@time_machine.travel(TODAY, tick=False)
def test_the_due_filter_shows_overdue_or_this_week(client, manager):
    FollowUpFactory(assignee=manager, due_on=dt.date(2026, 11, 24), lapse__customer__name="Late one")
    FollowUpFactory(assignee=manager, due_on=dt.date(2026, 11, 27), lapse__customer__name="Friday one")
    FollowUpFactory(assignee=manager, due_on=dt.date(2026, 12, 7), lapse__customer__name="Later one")
    html = client.get(reverse("churn:my_queue"), {"due": "overdue"}).content.decode()
    assert "Late one" in html and "Friday one" not in html
    html = client.get(reverse("churn:my_queue"), {"due": "week"}).content.decode()
    assert "Friday one" in html and "Late one" not in html and "Later one" not in html


def test_marking_contacted_returns_the_updated_row_only(client, manager):
    item = FollowUpFactory(assignee=manager)
    response = post_status(client, item, "contacted", note="Left a voicemail")
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="follow-up-{item.pk}"')
    assert "contacted" in html and "Left a voicemail" in html
    assert "<html" not in html
    item.refresh_from_db()
    assert (item.status, item.version) == ("contacted", 2)


def test_an_invalid_move_shows_a_clear_error_and_changes_nothing(client, manager):
    item = FollowUpFactory(assignee=manager, status="lost")
    html = post_status(client, item, "contacted").content.decode()
    assert "Cannot move an item from lost to contacted" in html
    item.refresh_from_db()
    assert (item.status, item.version) == ("lost", 1)


def test_a_stale_form_is_told_who_changed_the_item(client, manager):
    item = FollowUpFactory(assignee=manager)
    post_status(client, item, "contacted")
    html = post_status(client, item, "dismissed", version=1, dismiss_reason="expected_pause").content.decode()
    assert "changed by ann meanwhile" in html and "reload" in html
    item.refresh_from_db()
    assert (item.status, item.version) == ("contacted", 2)


def test_closing_as_lost_without_a_category_names_the_missing_field(client, manager):
    item = FollowUpFactory(assignee=manager, status="contacted")
    html = post_status(client, item, "lost", cause_text="Left").content.decode()
    assert "Cause: Choose the cause" in html
    assert '<details class="lost-form" open>' in html
    item.refresh_from_db()
    assert item.status == "contacted"


def test_a_product_loss_needs_the_product(client, manager):
    item = FollowUpFactory(assignee=manager, status="contacted")
    html = post_status(client, item, "lost", cause_category="new_product").content.decode()
    assert "Product: Name the product" in html
    assert FollowUp.objects.get(pk=item.pk).status == "contacted"


def test_an_unknown_product_sku_is_named_in_the_error(client, manager):
    item = FollowUpFactory(assignee=manager, status="contacted")
    html = post_status(client, item, "lost", cause_category="product_change", cause_product="NOPE-1").content.decode()
    assert "No product has the SKU NOPE-1" in html
    assert FollowUp.objects.get(pk=item.pk).status == "contacted"


def test_other_as_cause_needs_a_description(client, manager):
    item = FollowUpFactory(assignee=manager, status="contacted")
    html = post_status(client, item, "lost", cause_category="other").content.decode()
    assert "What happened: Describe the cause" in html


def test_closing_as_lost_with_a_product_records_it(client, manager):
    product = ProductFactory(sku="SYNC-2", name="Sync 2")
    item = FollowUpFactory(assignee=manager, status="contacted")
    html = post_status(
        client,
        item,
        "lost",
        cause_category="product_change",
        cause_product="SYNC-2",
        cause_text="The new sync lost their files",
    ).content.decode()
    assert "Sync 2" in html
    item.refresh_from_db()
    assert (item.status, item.cause_category, item.cause_product) == ("lost", "product_change", product)


def test_claim_and_reassign_from_the_page(client, manager):
    bob = UserFactory(role="Account manager", username="bob")
    item = FollowUpFactory(assignee=None)
    html = client.post(reverse("churn:claim", args=[item.pk]), {"version": 1}, **HTMX).content.decode()
    assert "ann" in html and ">Claim<" not in html
    client.post(reverse("churn:reassign", args=[item.pk]), {"version": 2, "to_user": bob.pk}, **HTMX)
    item.refresh_from_db()
    assert (item.assignee, item.version) == (bob, 3)


def test_without_htmx_a_change_redirects_back_with_the_error_as_a_message(client, manager):
    item = FollowUpFactory(assignee=manager, status="lost")
    response = client.post(
        reverse("churn:change_status", args=[item.pk]), {"to": "contacted", "version": 1}, follow=True
    )
    assert "Cannot move an item from lost to contacted" in response.content.decode()


def test_the_queue_page_makes_the_same_number_of_queries_for_5_or_40_items(client, manager, django_assert_num_queries):
    def count_for(n):
        FollowUp.objects.all().delete()
        for _ in range(n):
            FollowUpFactory(assignee=manager)
        ProductFactory()
        # session, user, user permissions, group permissions, COUNT of the items, the page of items
        # with customer/stage/assignee/lapse/cause product joined, the run in force and the stored
        # suspect analyses for the suspects counts (none flagged here: no exposure query), account
        # managers for the assign list, products for the SKU list, the menu's open-item count
        with django_assert_num_queries(11):
            response = client.get(reverse("churn:my_queue"))
        assert response.status_code == 200

    count_for(5)
    count_for(40)


def test_the_team_queue_adds_only_the_assignee_choices_query(client, manager, django_assert_num_queries):
    for _ in range(10):
        FollowUpFactory(assignee=None, status="lost", cause_category="new_product", cause_product=ProductFactory())
    # as my queue (11), plus the account managers of the assignee filter
    with django_assert_num_queries(12):
        assert client.get(reverse("churn:team_queue"), {"status": "all"}).status_code == 200
