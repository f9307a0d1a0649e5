"""The browser walk: an account manager works an item from open to lost, and insights show it."""

import datetime as dt

import pytest

from tests.churn.factories import FollowUpFactory
from tests.factories import ProductFactory, UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("restore_migrated_data"),
]
UTC = dt.UTC


@pytest.fixture
def page(browser_page):
    return browser_page


def test_an_account_manager_works_an_item_from_open_to_lost_and_insights_show_it(page, sign_in):
    ann = UserFactory(role="Account manager", username="ann")
    ProductFactory(sku="SYNC-2", name="Cloud Sync 2", launched_on=dt.date(2026, 5, 1))
    item = FollowUpFactory(
        assignee=ann,
        lapse__customer__name="Acme Lifetime",
        lapse__last_order_at=dt.datetime(2026, 6, 1, 12, tzinfo=UTC),
    )
    sign_in(page, "ann")
    page.goto(page.base_url + "/churn/")
    row = page.locator(f"#follow-up-{item.pk}")
    assert "Acme Lifetime" in row.inner_text()
    url_before = page.url

    row.get_by_text("Update…").click()
    row.locator("input[name=note]").fill("Called, they are unhappy with the new sync")
    row.get_by_role("button", name="Contacted").click()
    row.locator(".status", has_text="contacted").wait_for()
    assert page.url == url_before  # changed in place, no page load

    row.get_by_text("Close as lost…").click()
    row.get_by_role("button", name="Close as lost").click()
    row.locator(".row-error", has_text="Choose the cause").wait_for()  # the cause is required

    assert row.locator("details.lost-form[open]").count() == 1  # kept open to fix the error
    row.locator("select[name=cause_category]").select_option("product_change")
    row.locator("input[name=cause_product]").fill("SYNC-2")
    row.locator("textarea[name=cause_text]").fill("The sync rewrite lost their files twice")
    row.get_by_role("button", name="Close as lost").click()
    row.locator(".status", has_text="lost").wait_for()
    assert "Cloud Sync 2" in row.inner_text()
    page.screenshot(path="/tmp/churn_browser_queue.png", full_page=True)

    page.goto(page.base_url + "/churn/insights/")
    lost = page.locator("#lost-tier-3")
    assert "Acme Lifetime" in lost.inner_text()
    assert "Cloud Sync 2" in lost.inner_text()
    assert "Cloud Sync 2" in page.locator("#by-product").inner_text()
    assert "product change" in page.locator("#by-cause").inner_text()
    assert page.locator("#cause-chart").is_visible()
    page.screenshot(path="/tmp/churn_browser_insights.png", full_page=True)


def test_an_account_manager_claims_ticked_items_from_the_keyboard_and_the_queue_fits_390_px(page, sign_in):
    UserFactory(role="Account manager", username="ann")
    items = [
        FollowUpFactory(
            assignee=None, lapse__customer__name=f"Team item {n}", lapse__customer__company="A long company name GmbH"
        )
        for n in range(3)
    ]
    sign_in(page, "ann")
    page.goto(page.base_url + "/churn/team/")
    for it in items[:2]:
        page.get_by_label(f"Tick Team item {items.index(it)}").focus()
        page.keyboard.press("Space")  # a real checkbox: ticked from the keyboard
    page.get_by_role("button", name="Claim").focus()
    page.keyboard.press("Enter")
    page.get_by_text("Claimed 2 items: they are in your queue.").wait_for()
    assert "Team item 2" in page.content() and "Team item 0" not in page.locator("table.queue").inner_text()

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(page.base_url + "/churn/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # stacked rows, no sideways scroll
    assert "Team item 0" in page.locator("table.queue").inner_text()
