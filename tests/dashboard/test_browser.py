"""A real browser walks the dashboard: sign in → overview → a tier list → filter → a customer; saved
views. The browser, the page and signing in come from tests/conftest.py."""

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from customers.models import Customer
from dashboard.models import SavedView
from tests.factories import CustomerFactory, CustomerMetricsFactory
from tiering.models import RetierRun, TierChange

# serialized_rollback: the flush after a transactional test would otherwise drop the roles and
# tiers that migrations created, and every later test needs them.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("restore_migrated_data"),
]


@pytest.fixture
def customers(make_user):
    manager = make_user("Account manager", username="amira", first_name="Amira")
    for i, (tier, margin) in enumerate([(3, "9000"), (3, "7000"), (2, "800"), (2, "120"), (1, "-40")]):
        customer = CustomerFactory(name=f"Customer {i} tier {tier}", account_manager=manager if i % 2 == 0 else None)
        CustomerMetricsFactory(
            customer=customer, tier=tier, revenue=Decimal(margin) + 500, cost=Decimal(500), net_margin=Decimal(margin)
        )
    run = RetierRun.objects.create(
        as_of="2026-11-01", status="succeeded", counts={"1": 1, "2": 2, "3": 2}, matrix={"2->3": 1}
    )
    why = {
        "tier": 2,
        "version": 1,
        "groups": [
            {
                "level": 2,
                "match": "all",
                "held": True,
                "conditions": [{"metric": "orders", "op": "gte", "threshold": "2", "value": "5", "held": True}],
            }
        ],
    }
    walked_to = Customer.objects.get(name="Customer 2 tier 2")
    for day in range(1, 11):  # more changes than the page explains inline
        TierChange.objects.create(
            customer=walked_to,
            run=run,
            from_tier=1,
            to_tier=2,
            why=why,
            changed_at=dt.datetime(2026, 1, day, tzinfo=dt.UTC),
        )
    return manager


def test_an_account_manager_walks_from_sign_in_to_a_customer(live_server, browser_page, customers):
    page = browser_page
    page.goto(live_server.url + "/")
    page.get_by_label("Username").fill("amira")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator("#share-table")).to_contain_text("40.0 %")
    page.wait_for_function("() => window.Chart && Object.keys(Chart.instances).length === 1")

    page.get_by_role("link", name="Loyal").first.click()
    expect(page.get_by_role("heading", name="Loyal")).to_be_visible()
    expect(page.locator("table.customers tbody tr")).to_have_count(2)

    page.get_by_label("Net margin from").fill("500")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.customers tbody tr")).to_have_count(1)
    assert "min_margin=500" in page.url

    page.get_by_role("link", name="Customer 2 tier 2").click()
    expect(page.get_by_role("heading", name="Customer 2 tier 2")).to_be_visible()
    expect(page.get_by_role("heading", name="Why this tier")).to_be_visible()
    expect(page.locator("#followups")).to_contain_text("No follow-ups yet")

    page.get_by_text("2 earlier changes").click()
    older = page.locator("details[hx-get]").first
    older.locator("summary").click()  # htmx fetches the why of that change when it opens
    expect(older).to_contain_text("Orders was 5; needs at least 2.")


def test_an_account_manager_searches_by_company_sorts_and_keeps_a_saved_view(live_server, browser_page, customers):
    """Search by company → total → sort by name → save the view → it is a link above the list;
    a customer imported since the last run shows as not placed yet."""
    searched = Customer.objects.get(name="Customer 3 tier 2")
    searched.company = "Brightwater Logistics"
    searched.save()
    CustomerFactory(name="Fresh Import", company="Brightwater Freight")  # no metrics yet
    page = browser_page
    page.goto(live_server.url + "/tiers/")
    page.get_by_label("Username").fill("amira")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()

    page.get_by_label("Search").fill("brightwater")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#list-total")).to_have_text("1 customer matches")
    expect(page.locator("table.customers tbody tr")).to_have_count(1)
    expect(page.locator(".not-placed")).to_contain_text("Fresh Import")
    expect(page.locator(".not-placed")).to_contain_text("not placed yet")

    page.get_by_role("link", name="Customer", exact=True).click()  # sort by name
    assert "sort=name" in page.url
    page.get_by_label("Name of this view").fill("Brightwater")
    page.get_by_role("button", name="Save this view").click()
    expect(page.locator(".view-links")).to_contain_text("Brightwater")

    page.goto(live_server.url + "/tiers/")
    page.locator(".view-links").get_by_role("link", name="Brightwater").click()
    expect(page.get_by_label("Search")).to_have_value("brightwater")
    assert "sort=name" in page.url


def test_a_saved_view_is_kept_found_opened_and_deleted_by_its_owner_only(open_page, sign_in, customers, make_user):
    """Filter and sort → save under a name (Enter) → the name is among my views on every list → it
    opens with the same filter and order → delete it. A colleague never sees it."""
    make_user("Account manager", username="bo")
    page = open_page()
    sign_in(page, "amira")
    page.goto(page.base_url + "/tiers/")
    page.get_by_label("Net margin from").fill("500")
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("link", name="Customer", exact=True).click()  # sort by name
    expect(page.locator("#list-total")).to_have_text("3 customers match")
    names = page.locator("table.customers tbody tr td:first-child a").all_inner_texts()
    assert names == ["Customer 0 tier 3", "Customer 1 tier 3", "Customer 2 tier 2"]

    page.get_by_label("Name of this view").fill("Margin over 500")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Saved the view “Margin over 500”.")).to_be_visible()
    view = SavedView.objects.get()
    assert (view.user.username, view.level) == ("amira", None)
    assert "min_margin=500" in view.query and "sort=name" in view.query

    colleague = open_page()
    sign_in(colleague, "bo")
    colleague.goto(colleague.base_url + "/tiers/")
    expect(colleague.locator(".saved-views")).to_contain_text("None yet")
    expect(colleague.get_by_text("Margin over 500")).to_have_count(0)

    page.goto(page.base_url + "/tiers/3/")  # my views are listed above every list
    page.locator(".view-links").get_by_role("link", name="Margin over 500").click()
    expect(page.get_by_label("Net margin from")).to_have_value("500")
    expect(page.locator(".view-links a[aria-current=page]")).to_have_text("Margin over 500")
    assert page.locator("table.customers tbody tr td:first-child a").all_inner_texts() == names
    assert page.url.startswith(page.base_url + "/tiers/?")

    page.get_by_text("Rename or delete").click()
    page.get_by_role("button", name="Delete Margin over 500").click()
    expect(page.get_by_text("Deleted the view “Margin over 500”.")).to_be_visible()
    expect(page.locator(".view-links")).to_have_count(0)
    assert not SavedView.objects.exists()
