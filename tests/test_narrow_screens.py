"""Every page each role opens fits a phone (390 px) and a laptop (1366 px): no sideways scrolling of
the page itself (a wide table may scroll inside its own box). On seeded demo data, signed in as each
demo user, in Debian's Chromium."""

import datetime as dt
import os

import pytest
from django.core.management import call_command

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("restore_migrated_data"),
]
TODAY = dt.date(2026, 11, 30)

# The pages of each demo user; {customer} and {run} are filled from the seeded data.
PAGES = {
    ("admin", "tierboard-admin"): [
        "/", "/tiers/", "/tiers/3/", "/customer/{customer}/", "/churn/", "/churn/team/", "/churn/insights/",
        "/churn/backtest/", "/promotions/", "/promotions/new/", "/promotions/exports/", "/tiering/runs/",
        "/tiering/runs/{run}/", "/customers/import/", "/tiering/rules/", "/tiering/rules/{ruleset}/", "/no-such-page/",
        "/admin/tiering/ruleset/{ruleset}/preview/",
    ],
    ("manager", "tierboard-manager"): [
        "/", "/tiers/", "/tiers/2/?sort=-net_margin", "/tiers/?q=co", "/customer/{customer}/", "/churn/",
        "/churn/team/", "/churn/insights/",
    ],
    ("marketing", "tierboard-marketing"): [
        "/", "/marketing/", "/promotions/", "/promotions/new/", "/promotions/exports/", "/churn/insights/",
    ],
}  # fmt: skip

OVERFLOW = """(width) => {
  const page = document.documentElement.scrollWidth;
  if (page <= width) return null;
  const culprits = [];
  for (const el of document.querySelectorAll("main *")) {
    const r = el.getBoundingClientRect(), parent = el.parentElement.getBoundingClientRect();
    if (r.right > width + 1 && parent.right <= width + 1) culprits.push(el.tagName + "." + el.className);
  }
  return page + " px wide: " + culprits.slice(0, 5).join(", ");
}"""


@pytest.fixture
def seeded():
    from tiering.models import RetierRun

    call_command("seed_demo", "--customers", "150", "--today", TODAY.isoformat(), stdout=open(os.devnull, "w"))
    call_command("retier", "--as-of", TODAY.isoformat(), stdout=open(os.devnull, "w"))
    from tiering.models import CustomerMetrics

    customer = CustomerMetrics.objects.order_by("-tier", "-net_margin").values_list("customer_id", flat=True)[0]
    run = RetierRun.objects.latest("pk")
    return {"customer": customer, "run": run.pk, "ruleset": run.ruleset_id}


def test_no_page_of_any_role_scrolls_sideways_on_a_phone_or_a_laptop(seeded, open_page, sign_in):
    problems = []
    for (username, password), paths in PAGES.items():
        for width in (390, 1366):
            page = open_page(width=width)
            sign_in(page, username, password)
            for path in paths:
                page.goto(page.base_url + path.format(**seeded))
                overflow = page.evaluate(OVERFLOW, width)
                if overflow:
                    problems.append(f"{username} {path} at {width} px: {overflow}")
            page.close()
    assert problems == []
