"""What the read API gives: customers with tier, stage, risk and metrics, filtered and walked with a
keyset cursor; the tier-change feed after a cursor; follow-ups; a promotion's targets, the same
audience as its CSV export and logged as an export."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from promotions.exports import csv_chunks
from promotions.models import ExportLog
from promotions.selectors import targets_queryset
from tests.factories import CustomerFactory
from tiering.models import CustomerMetrics

pytestmark = pytest.mark.django_db


def walk(api_get, path: str, token: str, **params) -> list[dict]:
    """Every item of a listing, following next_cursor to the end."""
    items, cursor = [], None
    for _ in range(100):
        page = api_get(path, token, **params, **({"cursor": cursor} if cursor else {})).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ended")


def test_a_customer_comes_with_tier_stage_risk_and_metrics(api_get, make_token, api_data):
    at_risk = api_data["customers"][2]
    items = api_get("/api/v1/customers", make_token("read:customers")).json()["items"]
    item = next(i for i in items if i["external_id"] == at_risk.external_id)
    assert (item["tier"], item["lifecycle_stage"], item["churn_risk"]) == (3, "at_risk", 0.71)
    assert item["metrics"]["revenue"] == "1200.50" and item["metrics"]["net_margin"] == "300.25"
    assert item["metrics"]["days_since_last_order"] == 10  # 10 Nov to the run's as-of, 20 Nov


def test_walking_the_cursor_gives_every_customer_once_in_order(api_get, make_token, api_data):
    items = walk(api_get, "/api/v1/customers", make_token("read:customers"), limit=2)
    ids = [item["id"] for item in items]
    assert ids == sorted(c.pk for c in api_data["customers"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"tier": 3}, [2, 4]),
        ({"tier": 2}, [1, 3]),
        ({"stage": "at_risk"}, [2]),
        ({"changed_since": "2026-11-15"}, [1, 2, 3, 4]),
        ({"tier": 3, "stage": "active"}, [4]),
    ],
)
def test_customers_filter_by_tier_stage_and_changed_since(api_get, make_token, api_data, params, expected):
    items = walk(api_get, "/api/v1/customers", make_token("read:customers"), limit=1, **params)
    assert [item["id"] for item in items] == [api_data["customers"][i].pk for i in expected]


def test_a_page_costs_the_same_queries_whatever_its_size_and_depth_and_never_uses_offset(api_get, make_token, api_data):
    token = make_token("read:customers")
    for _ in range(30):
        CustomerMetrics.objects.create(customer=CustomerFactory(), changed_as_of=dt.date(2026, 11, 20), tier=2)
    counts = []
    for limit, deep in [(2, False), (25, False), (2, True)]:
        cursor = api_get("/api/v1/customers", token, limit=20).json()["next_cursor"] if deep else None
        with CaptureQueriesContext(connection) as queries:
            response = api_get("/api/v1/customers", token, limit=limit, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200
        assert not any("OFFSET" in q["sql"] for q in queries.captured_queries)
        counts.append(len(queries))
    # token look-up, last use, the run in force, the page's ids, their items (metrics, customer,
    # manager and risk by id), the call log entry
    assert counts[0] == counts[1] == counts[2] == 6


def test_a_cursor_the_api_did_not_give_is_refused_plainly(api_get, make_token, api_data):
    response = api_get("/api/v1/customers", make_token("read:customers"), cursor="not-a-cursor")
    assert response.status_code == 400
    assert "cursor" in response.json()["detail"]


def test_the_tier_change_feed_gives_each_change_with_run_from_to_and_why_after_a_cursor(api_get, make_token, api_data):
    token = make_token("read:changes")
    first = api_get("/api/v1/tier-changes", token, limit=3).json()
    rest = walk(api_get, "/api/v1/tier-changes", token, cursor=first["next_cursor"])
    changes = first["items"] + rest
    assert len(changes) == 5 and len({c["id"] for c in changes}) == 5
    change = changes[2]
    assert change["run_id"] == api_data["run"].pk and change["run_as_of"] == "2026-11-20"
    assert (change["from_tier"], change["to_tier"], change["why"]) == (None, 3, {"held": ["tier 3"]})
    assert change["external_id"] == api_data["customers"][2].external_id


def test_follow_ups_are_listed_and_filtered_by_status(api_get, make_token, api_data):
    token = make_token("read:followups")
    [item] = api_get("/api/v1/follow-ups", token, status="open").json()["items"]
    assert item["id"] == api_data["follow_up"].pk and item["external_id"] == api_data["customers"][2].external_id
    assert api_get("/api/v1/follow-ups", token, status="lost").json()["items"] == []


def test_a_promotions_targets_are_its_csv_exports_rows(api_get, make_token, api_data):
    promotion = api_data["promotion"]
    items = walk(api_get, f"/api/v1/promotions/{promotion.pk}/targets", make_token("read:targets"), limit=1)
    exported = list(csv.DictReader(io.StringIO(b"".join(csv_chunks(targets_queryset(promotion=promotion))).decode())))
    assert [(i["external_id"], str(i["tier"])) for i in items] == [(r["external_id"], r["tier"]) for r in exported]
    assert len(items) == 4  # tiers 2 and 3


def test_pulling_targets_is_logged_as_one_export_counted_to_its_last_page(api_get, make_token, api_data):
    promotion = api_data["promotion"]
    path = f"/api/v1/promotions/{promotion.pk}/targets"
    token = make_token("read:targets")
    first = api_get(path, token, limit=3).json()
    entry = ExportLog.objects.get()
    assert (entry.source, entry.promotion, entry.row_count, entry.finished_at) == ("api", promotion, 3, None)
    assert entry.actor.startswith("API token CRM sync")
    api_get(path, token, limit=3, cursor=first["next_cursor"])
    entry.refresh_from_db()
    assert (entry.row_count, entry.finished_at is not None) == (4, True)
    assert ExportLog.objects.count() == 1


def test_an_unknown_promotion_is_404(api_get, make_token, api_data):
    assert api_get("/api/v1/promotions/999999/targets", make_token("read:targets")).status_code == 404
