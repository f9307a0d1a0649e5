import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.churn.factories import FollowUpFactory, LapseFactory

pytestmark = pytest.mark.django_db
URL = reverse("dashboard:tier_list")


@pytest.fixture
def customers(make_metrics):
    """One customer in each churn situation, plus one who never lapsed."""
    made = {}
    for name in ("Open", "Contacted", "Quiet tier 1", "Came back", "Won", "Gone", "Steady"):
        made[name] = make_metrics(name=name).customer
    FollowUpFactory(lapse=LapseFactory(customer=made["Open"]), status="open")
    FollowUpFactory(lapse=LapseFactory(customer=made["Contacted"]), status="contacted")
    LapseFactory(customer=made["Quiet tier 1"], tier_while_active=1, response="no action: tier 1")
    LapseFactory(
        customer=made["Came back"],
        tier_while_active=1,
        response="no action: tier 1",
        returned_at="2026-11-10T02:00:00Z",
    )
    FollowUpFactory(lapse=LapseFactory(customer=made["Won"]), status="won_back")
    FollowUpFactory(lapse=LapseFactory(customer=made["Gone"]), status="lost", cause_category="price")
    return made


def names(response) -> set[str]:
    return {row.customer.name for row in response.context["page"].rows}


@pytest.mark.parametrize(
    "status, expected",
    [
        ("open", {"Open", "Contacted"}),
        ("no_action", {"Quiet tier 1"}),
        ("won_back", {"Won"}),
        ("lost", {"Gone"}),
    ],
)
def test_it_filters_by_churn_status(as_manager, customers, status, expected):
    assert names(as_manager.get(URL, {"churn": status})) == expected


def test_the_filter_is_an_exists_probe_and_the_form_offers_it(as_manager, customers):
    with CaptureQueriesContext(connection) as queries:
        response = as_manager.get(URL, {"churn": "lost"})
    page_query = next(
        q["sql"]
        for q in queries.captured_queries
        if "tiering_customermetrics" in q["sql"] and "churn_followup" in q["sql"]
    )
    assert "EXISTS" in page_query
    assert '<option value="lost" selected>Lost</option>' in response.content.decode()


def test_an_unknown_churn_status_is_ignored_with_a_message(as_manager, customers):
    response = as_manager.get(URL, {"churn": "zombie"})
    assert names(response) == set(customers)
    assert "Ignored Churn status “zombie”" in response.content.decode()
