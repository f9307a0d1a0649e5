"""One browser walk per role through its morning: home → its main list → a customer (for marketing,
a promotion) → back, asserting what the role must see and what it must not."""

import csv
import datetime as dt
import io
from decimal import Decimal as D

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from customers.models import Customer
from promotions.models import ExportLog, Promotion
from tests.churn.factories import FollowUpFactory
from tests.factories import CustomerFactory, CustomerMetricsFactory
from tiering.models import RetierRun

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("restore_migrated_data"),
]
TIERS = [(3, "9000"), (3, "7000"), (2, "800"), (2, "120"), (1, "-40")]  # (tier, net margin)
QUEUE_PAGES = ("Tier lists", "My queue", "Team queue")
ADMIN_TOOLS = ("Tier rules", "Runs", "Import data")


@pytest.fixture
def morning(make_user):
    """Five placed customers, one imported since the run, Amira's open follow-up, a promotion and
    an export each by two marketers."""
    cache.clear()  # the overview's and marketing home's totals are cached per run
    people = {
        "ada": make_user("Admin", username="ada"),
        "amira": make_user("Account manager", username="amira", first_name="Amira", last_name="Haddad"),
        "mia": make_user("Marketing", username="mia"),
        "max": make_user("Marketing", username="max"),
    }
    for i, (tier, margin) in enumerate(TIERS):
        customer = CustomerFactory(name=f"Customer {i} tier {tier}", account_manager=people["amira"])
        CustomerMetricsFactory(customer=customer, tier=tier, revenue=D(margin) + 500, cost=D(500), net_margin=D(margin))
    RetierRun.objects.create(as_of="2026-11-01", status="succeeded", counts={"1": 1, "2": 2, "3": 2})
    CustomerFactory(name="Fresh Import")  # no tier until the next run
    FollowUpFactory(assignee=people["amira"], lapse__customer=Customer.objects.get(name="Customer 0 tier 3"))
    promotion = Promotion.objects.create(
        name="Spring loyal", starts_on=dt.date(2027, 3, 1), ends_on=dt.date(2027, 3, 31), tiers=[2, 3]
    )
    for who, rows in (("mia", 4), ("max", 7)):
        ExportLog.objects.create(
            user=people[who], actor=who, source="web", promotion=promotion, filters={"tiers": [2, 3]}, row_count=rows
        )
    return people


def menu(page) -> str:
    return page.get_by_role("navigation").first.inner_text()


def refused(page, path: str) -> None:
    response = page.goto(page.base_url + path)
    assert response.status == 403, path
    expect(page.get_by_role("heading", name="This page is not part of your role")).to_be_visible()


def test_an_admins_morning(open_page, sign_in, morning):
    page = open_page()
    sign_in(page, "ada")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.get_by_text("Admin tools").click()
    for label in ADMIN_TOOLS:
        expect(page.locator(".nav-menu").get_by_role("link", name=label)).to_be_visible()
    assert all(label in menu(page) for label in (*QUEUE_PAGES, "Marketing", "Export log"))

    page.keyboard.press("Escape")
    page.get_by_role("link", name="Tier lists").click()
    expect(page.locator(".not-placed")).to_contain_text("Fresh Import")
    expect(page.get_by_role("button", name="Run re-tier now")).to_be_visible()  # admins start the run
    page.get_by_role("link", name="Customer 1 tier 3").click()
    expect(page.get_by_role("heading", name="Customer 1 tier 3")).to_be_visible()
    expect(page.get_by_role("heading", name="Why this tier")).to_be_visible()
    page.go_back()
    expect(page.get_by_role("heading", name="All customers")).to_be_visible()

    page.get_by_role("link", name="Export log").click()
    expect(page.get_by_role("heading", name="Export log")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(2)  # every marketer's exports
    assert {"mia", "max"} <= set(page.locator("tbody td:nth-child(2)").all_inner_texts())


def test_an_account_managers_morning(open_page, sign_in, morning):
    page = open_page()
    sign_in(page, "amira")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator("#nav-open-items")).to_contain_text("1")  # one open item of hers
    for label in ("Admin tools", "Marketing", "Promotions", "Export log"):
        assert label not in menu(page), label

    page.get_by_role("navigation").get_by_role("link", name="My queue").click()
    row = page.locator("table.queue tbody tr")
    expect(row).to_have_count(1)
    row.get_by_role("link", name="Customer 0 tier 3").click()
    expect(page.get_by_role("heading", name="Customer 0 tier 3")).to_be_visible()
    expect(page.locator("#followups")).to_contain_text("open")
    page.go_back()
    assert page.url == page.base_url + "/churn/"
    expect(page.locator("table.queue tbody tr")).to_have_count(1)

    page.get_by_role("link", name="Tier lists").click()
    expect(page.locator(".not-placed")).to_contain_text("Fresh Import")
    expect(page.get_by_role("button", name="Run re-tier now")).to_have_count(0)  # an admin's button
    for path in ("/marketing/", "/promotions/exports/", "/tiering/rules/", "/customers/import/"):
        refused(page, path)


def test_a_marketers_morning(open_page, sign_in, morning):
    page = open_page()
    sign_in(page, "mia")
    expect(page.get_by_role("heading", name="Marketing", exact=True)).to_be_visible()
    sizes = page.locator("#tier-sizes tbody td:first-of-type")  # customers per tier, highest first
    expect(sizes).to_have_text(["2 · 40.0 %", "2 · 40.0 %", "1 · 20.0 %"])
    for label in QUEUE_PAGES:
        assert label not in menu(page), label
    expect(page.locator("#exports tbody tr")).to_have_count(1)  # her own export, not Max's
    expect(page.locator("#exports")).to_contain_text("Spring loyal")

    page.get_by_role("link", name="Promotions", exact=True).click()
    page.get_by_role("link", name="Spring loyal").first.click()
    expect(page.locator("#target-count")).to_have_text("4")  # tiers 2 and 3
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    assert sorted(r["name"] for r in rows) == [f"Customer {i} tier {t}" for i, (t, _) in enumerate(TIERS) if t > 1]
    logged = ExportLog.objects.filter(user=morning["mia"]).latest("id")
    assert (logged.row_count, logged.promotion.name) == (4, "Spring loyal")

    page.get_by_role("link", name="Marketing", exact=True).click()
    expect(page.locator("#exports tbody tr")).to_have_count(2)
    page.get_by_role("link", name="All my exports").click()
    expect(page.get_by_role("heading", name="My exports")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(2)
    assert set(page.locator("tbody td:nth-child(2)").all_inner_texts()) == {"mia"}
    customer = Customer.objects.get(name="Customer 0 tier 3")
    for path in ("/churn/", "/churn/team/", "/tiers/", f"/customer/{customer.pk}/"):
        refused(page, path)
