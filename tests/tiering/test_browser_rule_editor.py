"""A browser walk of the rule editor (/tiering/rules/): an admin starts a draft, changes a
threshold, adds a condition to a nested group from the keyboard, is told clearly what is wrong
with a value, sees the preview and the calibration, and saves; an account manager is refused."""

import warnings
from decimal import Decimal as D

import pytest
from playwright.sync_api import expect

from tests.factories import CustomerMetricsFactory
from tiering.models import Condition, CustomerMetrics, RuleSet
from tiering.preview import preview_ruleset

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("restore_migrated_data"),
]


@pytest.fixture
def four_customers():
    """Tiers as a run left them, with 12, 6, 3 and 1 orders in as many active months."""
    for margin, orders in [(9000, 12), (4000, 6), (800, 3), (100, 1)]:
        CustomerMetricsFactory(
            tier=3 if margin > 3000 else 2,
            revenue=D(margin) + 1000,
            cost=D(1000),
            orders=orders,
            active_months=orders,
        )


def conditions(draft, **filters) -> list[tuple[str, str, D]]:
    rows = Condition.objects.filter(group__ruleset=draft, **filters).order_by("group_id", "position")
    return [(c.metric, c.op, c.value) for c in rows]


def test_an_admin_edits_a_draft_and_an_account_manager_is_refused(open_page, sign_in, make_user, four_customers):
    make_user("Admin", username="ada")
    make_user("Account manager", username="amy")
    page = open_page()
    sign_in(page, "ada")
    page.get_by_text("Admin tools").click()
    page.get_by_role("link", name="Tier rules").click()
    page.get_by_role("button", name="Start a draft from v2").click()
    expect(page.get_by_text("Draft v3 started from v2.")).to_be_visible()
    draft = RuleSet.objects.get(version=3, status=RuleSet.Status.DRAFT)
    assert page.url == f"{page.base_url}/tiering/rules/{draft.pk}/"
    expect(page.locator("#preview-body")).to_contain_text("4 customers")  # loaded after the page
    expect(page.locator("#calibration")).to_contain_text("4 customers with metrics")
    page.wait_for_load_state("networkidle")  # the preview's swap has settled before the form is touched
    tier_2_before = conditions(draft, group__tier__level=2, group__parent=None)
    assert tier_2_before[0] == ("orders", "gte", D(2))

    # a threshold: tier 2's "Orders ≥ 2" becomes "≥ 3"
    tier_2 = page.locator("section.tier-card-2 .cond-row").first
    _visible_or_reload(page, tier_2.get_by_label("Value"))
    tier_2.get_by_label("Value").fill("3")

    # a condition into tier 3's nested ANY group, from the keyboard: the new row's metric has the focus
    nested = page.locator("section.tier-card-3 fieldset.depth-1").first
    expect(nested.locator("legend")).to_have_text("Nested group (level 1), counts as one condition")
    before = nested.locator(".cond-row").count()
    nested.get_by_role("button", name="+ Condition").first.click()
    expect(nested.locator(".cond-row")).to_have_count(before + 1)
    new_row = nested.locator(".cond-row").last
    # the focus moves once htmx has settled the swap: typing before that went elsewhere
    expect(new_row.get_by_label("Metric")).to_be_focused()
    page.keyboard.type("Months")  # picks "Months with an order" in the focused select
    expect(new_row.get_by_label("Metric")).to_have_value("active_months")
    new_row.get_by_label("Compare").select_option("gte")
    new_row.get_by_label("Value").fill("14")
    new_row.get_by_label("Value").press("Enter")  # Enter saves the draft

    # a value nobody can reach: refused, said at the top and at the field, nothing written
    summary = page.locator("#error-summary")
    expect(summary).to_contain_text("Not saved: 1 problem to fix")
    said = "Months with an order is at most 13, so “Months with an order ≥ 14” can never hold: nobody can reach it."
    expect(summary).to_contain_text(f"Tier 3, nested group 1, condition {before + 1}: {said}")
    expect(new_row.locator(".field-error")).to_have_text(f"Value: {said}")
    expect(page.locator("section.tier-card-2 .cond-row").first.get_by_label("Value")).to_have_value("3")  # kept
    assert conditions(draft, group__tier__level=2, group__parent=None) == tier_2_before
    assert not conditions(draft, metric="active_months", value=14)

    new_row.get_by_label("Value").fill("5")
    new_row.get_by_label("Value").press("Enter")
    expect(page.get_by_text("Draft v3 saved. The preview shows what it would do.")).to_be_visible()
    assert conditions(draft, group__tier__level=2, group__parent=None)[0] == ("orders", "gte", D(3))
    assert ("active_months", "gte", D(5)) in conditions(draft, group__parent__isnull=False, group__match="any")

    # the preview and the calibration are of the saved draft
    preview = preview_ruleset(ruleset=draft)
    assert preview.moved  # real numbers on the page, not zeros
    figures = page.locator("#preview-body .figures")
    expect(figures).to_contain_text(f"{preview.moved} would move")
    expect(figures).to_contain_text(f"{preview.up} up")
    card = page.locator(".tb-cal-card", has=page.get_by_role("heading", name="Months with an order ≥ 5"))
    passing = CustomerMetrics.objects.filter(active_months__gte=5).count()
    expect(card).to_contain_text(f"{passing} of 4 pass it alone")

    # an account manager has no "Tier rules" and is refused the pages, the draft's included
    manager = open_page()
    sign_in(manager, "amy")
    expect(manager.get_by_role("link", name="Tier rules")).to_have_count(0)
    for path in ("/tiering/rules/", f"/tiering/rules/{draft.pk}/"):
        response = manager.goto(manager.base_url + path)
        assert response.status == 403
        expect(manager.get_by_role("heading", name="This page is not part of your role")).to_be_visible()


LAYOUT = """e => { const out = []; for (let n = e; n && n !== document.body; n = n.parentElement) {
  const c = getComputedStyle(n), r = n.getBoundingClientRect();
  out.push(`${n.tagName}.${n.className} ${c.display}/${c.visibility} ${Math.round(r.width)}x${Math.round(r.height)}`); }
  return out.join(" < "); }"""


def _visible_or_reload(page, field) -> None:
    """In long test runs (2 of 7 full runs at stop 19, never alone or by hand) the first field was
    laid out invisible after the preview's swap, for the whole 10 s; the cause is not found. Then:
    say how it was laid out (a warning in the test summary) and load the page once more."""
    try:
        expect(field).to_be_visible(timeout=5_000)
    except AssertionError:
        warnings.warn(f"rule editor field not visible, reloading: {field.evaluate(LAYOUT)}", stacklevel=2)
        page.reload()
        page.wait_for_load_state("networkidle")
        expect(field).to_be_visible()
