"""Where people see the suspects: the insights page and each follow-up's page."""

import datetime as dt
import json
import re

import pytest
from django.urls import reverse

from churn import suspects
from tests.churn.factories import FollowUpFactory, RetierRunFactory
from tests.churn.test_suspects import AS_OF, STOPPED, planted  # noqa: F401 - the planted business
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture
def manager(client):
    user = UserFactory(role="Account manager")
    client.force_login(user)
    RetierRunFactory(as_of=AS_OF)  # the run in force: the analysis is as of its date
    return user


def lost(customer, **cause):
    return FollowUpFactory(
        status="lost",
        closed_at=dt.datetime(2026, 10, 5, tzinfo=UTC),
        lapse__customer=customer,
        lapse__last_order_at=dt.datetime.combine(STOPPED, dt.time(12), tzinfo=UTC),
        **cause,
    )


def stopped_buyer_of(product):
    return product.order_lines.filter(customer__metrics__last_order_at__date=STOPPED).first().customer


def test_the_insights_page_ranks_the_suspects_strongest_first(client, manager, planted):  # noqa: F811
    html = client.get(reverse("churn:insights")).content.decode()
    ranking = html[html.index('id="suspect-ranking"') :]
    rows = ranking[: ranking.index("</table>")].split("<tr>")[2:]
    assert "Sync Two" in rows[0] and "Suspect" in rows[0] and "36 of 60" in rows[0]
    assert "Clear Lens" in html and "1</strong> of 3 launches and releases flagged" in html


def test_it_shows_the_share_still_buying_over_time_as_a_chart_and_a_table(client, manager, planted):  # noqa: F811
    html = client.get(reverse("churn:insights")).content.decode()
    curves = json.loads(re.search(r'<script id="curve-data" type="application/json">(.*?)</script>', html).group(1))
    sync = curves[0]
    assert sync["subject"] == "SYNC-2 Sync Two" and sync["days"][-1] == 180
    assert sync["exposed"][0] == 100 and sync["exposed"][-1] == 40  # 36 of 60 gone by 180 days
    table = html[html.index(f'id="curve-table-launch{planted["sync"].pk}"') :]
    assert '<td class="num">180</td><td class="num">40.0 %</td>' in table


def test_recorded_causes_are_compared_with_the_flagged_suspects(client, manager, planted):  # noqa: F811
    lost(stopped_buyer_of(planted["sync"]), cause_category="new_product", cause_product=planted["sync"])
    lost(stopped_buyer_of(planted["lens"]), cause_category="price")
    html = client.get(reverse("churn:insights")).content.decode()
    assert "match a flagged suspect the customer was exposed to: <strong>1 of 2</strong>" in html
    by_suspect = html[html.index('id="causes-by-suspect"') :]
    assert '<td>SYNC-2 Sync Two</td><td class="num">1</td><td class="num">1</td>' in by_suspect


def test_a_business_with_no_releases_and_no_launches_gets_an_empty_explained_page(client, manager):
    ProductFactory(launched_on=dt.date(2019, 1, 1))
    html = client.get(reverse("churn:insights")).content.decode()
    assert 'id="no-suspects"' in html and "Nothing to analyse yet" in html
    assert "No product was launched and no release was recorded between 1 Nov 2024 and 5 May 2026" in html
    assert 'id="suspect-ranking"' not in html


def test_the_insights_page_is_a_fixed_number_of_queries(client, manager, planted, django_assert_num_queries):  # noqa: F811
    for product in (planted["sync"], planted["lens"]):
        lost(stopped_buyer_of(product), cause_category="new_product", cause_product=product)
    suspects.refresh(as_of=AS_OF, tiers=(3,))
    # session, user, user permissions, group permissions, by cause, by product, lost tier-3 items,
    # products launched in their windows, changes released then, which products they bought,
    # the run in force (the analysis' date), the stored analysis, the lost customers' exposures,
    # the menu's open-item count
    with django_assert_num_queries(14):
        assert client.get(reverse("churn:insights")).status_code == 200


def test_an_investigation_shows_the_suspects_the_customer_was_exposed_to_ranked(client, manager, planted):  # noqa: F811
    item = FollowUpFactory(lapse__customer=stopped_buyer_of(planted["sync"]), assignee=manager)
    html = client.get(reverse("churn:item", args=[item.pk])).content.decode()
    listed = html[html.index('id="item-suspects"') :]
    assert "Sync Two" in listed and "Suspect" in listed
    assert "Clear Lens" not in listed and "Widget price up" not in listed  # not exposed to those


def test_a_widget_buyers_investigation_shows_the_price_rise_and_why_it_is_not_flagged(client, manager, planted):  # noqa: F811
    item = FollowUpFactory(lapse__customer=planted["widget_buyers"][0])
    listed = client.get(reverse("churn:item", args=[item.pk])).content.decode()
    assert "Widget price up" in listed and "too few exposed (under 30)" in listed and "Sync Two" not in listed


def test_the_follow_up_page_is_a_fixed_number_of_queries(client, manager, planted, django_assert_num_queries):  # noqa: F811
    item = FollowUpFactory(lapse__customer=stopped_buyer_of(planted["sync"]))
    suspects.refresh(as_of=AS_OF, tiers=(3,))
    # session, user, user permissions, group permissions, the item with customer, assignee, lapse and
    # cause product, the run in force, the stored analysis, the customer's exposures, the menu's
    # open-item count
    with django_assert_num_queries(9):
        assert client.get(reverse("churn:item", args=[item.pk])).status_code == 200


def test_marketing_may_not_open_a_follow_up(client, planted):  # noqa: F811
    client.force_login(UserFactory(role="Marketing"))
    item = FollowUpFactory()
    assert client.get(reverse("churn:item", args=[item.pk])).status_code == 403


def test_a_run_after_the_analysis_makes_the_page_analyse_again(client, manager, planted):  # noqa: F811
    first = suspects.latest(tiers=(3,))
    assert suspects.latest(tiers=(3,)).pk == first.pk  # stored: read, not recomputed
    RetierRunFactory(as_of=AS_OF, finished_at=dt.datetime.now(UTC) + dt.timedelta(seconds=1))  # e.g. after an import
    assert suspects.latest(tiers=(3,)).pk != first.pk


def test_tiers_that_are_not_offered_fall_back_to_tier_3_with_a_message(client, manager):
    html = client.get(reverse("churn:insights"), {"tiers": "9,banana"}).content.decode()
    assert "Tiers “9,banana” is not one of 3, 2,3 or 2; showing tier 3." in html
    assert '<option value="3" selected>' in html
