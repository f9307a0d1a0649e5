"""In a real browser: the count and rows follow the filters as a marketer changes them (htmx)."""

import pytest

from tests.factories import CustomerMetricsFactory, UserFactory

# The live server reads committed data, so the test is transactional and the database is
# flushed after it; serialized_rollback keeps a copy of what the migrations made (the roles).
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("restore_migrated_data"),
]


@pytest.fixture
def page(browser_page, sign_in):
    UserFactory(username="mia", role="Marketing")  # password "pw"
    sign_in(browser_page, "mia")
    return browser_page


@pytest.fixture
def one_of_each_tier_and_two_loyal(transactional_db):
    # made before the browser starts: Playwright's event loop makes the ORM refuse to run after
    for tier in (1, 2, 2, 3):
        CustomerMetricsFactory(tier=tier)


def test_the_count_follows_the_tiers_and_a_bad_filter_shows_its_error(
    one_of_each_tier_and_two_loyal, live_server, page
):
    page.goto(f"{live_server.url}/promotions/new/")
    assert page.locator("#target-count").inner_text(timeout=5000) == "3"  # tiers 2 and 3 by default
    page.uncheck("#id_tiers_1")  # leave tier 2 out
    page.wait_for_function("document.querySelector('#target-count')?.innerText === '1'", timeout=5000)
    page.check("#id_tiers_0")  # ask for tier 1 explicitly
    page.wait_for_function("document.querySelector('#target-count')?.innerText === '2'", timeout=5000)
    page.fill("#id_active_within_days", "30")
    page.fill("#id_lapsed_over_days", "60")
    page.locator("text=No customer can have ordered within 30 days").wait_for(timeout=5000)
