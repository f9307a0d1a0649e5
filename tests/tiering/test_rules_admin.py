"""The rule set admin: who may see it, drafts editable and versions read-only, the buttons, the audit trail."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import CustomerMetricsFactory
from tiering.models import Condition, RuleSet, Tier

from .rulesets import make_ruleset

pytestmark = pytest.mark.django_db
DRAFT = {3: ("all", [("net_margin", "gte", "5000")]), 2: ("all", [("orders", "gte", "2")])}


@pytest.fixture
def admin_client(client, make_user):
    user = make_user(role="Admin", is_staff=True, username="alice")
    client.force_login(user)
    client.user = user
    return client


def v1():
    """The default rules in force: v2 of migration 0014 (v1 retired)."""
    return RuleSet.objects.get(version=2)


def change_url(ruleset):
    return reverse("admin:tiering_ruleset_change", args=[ruleset.pk])


@pytest.mark.parametrize("name", ["changelist", "change", "preview", "history"])
def test_an_admin_sees_the_rule_set_pages(admin_client, name):
    url = reverse(f"admin:tiering_ruleset_{name}", args=[] if name == "changelist" else [v1().pk])
    assert admin_client.get(url).status_code == 200


def test_an_account_manager_is_sent_to_the_admin_login(client, make_user):
    client.force_login(make_user(role="Account manager"))
    response = client.get(reverse("admin:tiering_ruleset_preview", args=[v1().pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_publish_permission_cannot_publish(client, make_user):
    client.force_login(make_user(role="Account manager", is_staff=True))
    draft = make_ruleset(DRAFT)
    response = client.post(reverse("admin:tiering_ruleset_publish", args=[draft.pk]))
    assert response.status_code == 403
    assert v1().status == RuleSet.Status.PUBLISHED


def test_the_published_version_reads_as_rules_in_plain_words_and_cannot_be_edited(admin_client):
    page = admin_client.get(change_url(v1())).content.decode()
    assert "Tier 3</b> needs ALL of:" in page
    assert "Lifetime net margin ≥ the 90th percentile of customers with 2+ orders in the window (and ≥ €0)" in page
    assert "NONE of (Rejected complaints ≥ 3; Compensation share ≥ 5%)" in page
    assert "Read-only: to change the rules, create a draft from this version." in page
    assert "Publish v2" not in page
    assert admin_client.post(change_url(v1()), {"notes": "changed", "grace_runs": 0}).status_code == 403


def test_create_draft_from_this_copies_the_version_and_opens_the_draft(admin_client):
    response = admin_client.post(reverse("admin:tiering_ruleset_copy", args=[v1().pk]))
    draft = RuleSet.objects.get(version=3)
    assert response["Location"] == change_url(draft)
    assert (draft.status, draft.created_by) == (RuleSet.Status.DRAFT, admin_client.user)
    assert (
        Condition.objects.filter(group__ruleset=draft).count() == Condition.objects.filter(group__ruleset=v1()).count()
    )


def test_publish_puts_the_draft_in_force_and_retires_the_old_one(admin_client):
    draft = make_ruleset(DRAFT)
    response = admin_client.post(reverse("admin:tiering_ruleset_publish", args=[draft.pk]), follow=True)
    assert f"Rule set v{draft.version} is now in force" in response.content.decode()
    draft.refresh_from_db()
    assert (draft.status, draft.published_by) == (RuleSet.Status.PUBLISHED, admin_client.user)
    assert v1().status == RuleSet.Status.RETIRED
    assert admin_client.get(change_url(v1())).status_code == 200  # still readable


def test_publishing_a_draft_with_an_empty_group_shows_why_and_changes_nothing(admin_client):
    draft = make_ruleset({3: ("all", []), 2: ("all", [("orders", "gte", "2")])})
    page = admin_client.get(change_url(draft)).content.decode()
    assert "1 problem to fix before publishing" in page  # flagged before anyone tries
    response = admin_client.post(reverse("admin:tiering_ruleset_publish", args=[draft.pk]), follow=True)
    assert "The tier 3 group has no condition, so it would place nobody." in response.content.decode()
    assert v1().status == RuleSet.Status.PUBLISHED


def group_form(group, conditions, **changes):
    """POST data for a group's page: its conditions as (id, metric, op, value) rows."""
    data = {
        "tier": group.tier_id,
        "match": group.match,
        "_save": "Save",
        "conditions-TOTAL_FORMS": len(conditions),
        "conditions-INITIAL_FORMS": sum(1 for c in conditions if c[0]),
        "conditions-MIN_NUM_FORMS": 0,
        "conditions-MAX_NUM_FORMS": 1000,
        **{
            f"children-{k}": n
            for k, n in [("TOTAL_FORMS", 0), ("INITIAL_FORMS", 0), ("MIN_NUM_FORMS", 0), ("MAX_NUM_FORMS", 1000)]
        },
    }
    for i, (pk, metric, op, value) in enumerate(conditions):
        data.update(
            {
                f"conditions-{i}-id": pk or "",
                f"conditions-{i}-group": group.pk,
                f"conditions-{i}-metric": metric,
                f"conditions-{i}-op": op,
                f"conditions-{i}-value": value,
            }
        )
    return {**data, **changes}


def test_a_bad_condition_is_refused_on_its_field_and_nothing_is_saved(admin_client):
    group = make_ruleset(DRAFT).groups.get(tier__level=2)
    cond = group.conditions.get()
    url = reverse("admin:tiering_rulegroup_change", args=[group.pk])
    response = admin_client.post(
        url, group_form(group, [(cond.pk, "orders", "gte", "2.5"), (None, "complaints", "lt", "0")])
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Orders is counted in a whole number: use e.g. 2, not 2.5." in page
    assert "Complaints is never negative, so “Complaints &lt; 0” can never hold." in page
    assert list(group.conditions.values_list("metric", "value")) == [("orders", 2)]


def test_changing_a_condition_is_recorded_with_who_did_it(admin_client):
    group = make_ruleset(DRAFT).groups.get(tier__level=3)
    cond = group.conditions.get()
    url = reverse("admin:tiering_rulegroup_change", args=[group.pk])
    response = admin_client.post(url, group_form(group, [(cond.pk, "net_margin", "gte", "6000")]))
    assert response["Location"] == change_url(group.ruleset)  # back to the rule set
    latest = cond.history.first()
    assert (latest.history_type, latest.history_user, latest.value) == ("~", admin_client.user, 6000)
    page = admin_client.get(change_url(group.ruleset)).content.decode()
    assert "Tier 3: “Net margin ≥ €5,000” → “Net margin ≥ €6,000”" in page
    assert "<td>alice</td>" in page


def test_a_published_versions_group_is_read_only(admin_client):
    group = v1().groups.get(tier__level=2, parent=None)
    url = reverse("admin:tiering_rulegroup_change", args=[group.pk])
    assert admin_client.get(url).status_code == 200
    assert admin_client.post(url, group_form(group, [])).status_code == 403


def test_the_preview_page_shows_the_matrix_and_says_nothing_is_written(admin_client):
    CustomerMetricsFactory(tier=2, orders=1, customer__name="Falling Ltd")
    CustomerMetricsFactory(tier=2, orders=3)
    draft = make_ruleset(DRAFT)
    page = admin_client.get(reverse("admin:tiering_ruleset_preview", args=[draft.pk])).content.decode()
    assert "Nothing is written." in page
    assert "Falling Ltd" in page
    assert '<td class="down" title="1 customer would move from tier 2 to tier 1">1</td>' in page
    assert "Each tier's share of customers, 12-month revenue and net margin" in page
    # tier 2: every customer (2) now, half (1) with the draft, 50 points fewer
    assert '<td>100.0%<div class="tb-muted">2</div></td>' in page
    assert '<td><b>50.0%</b><div class="tb-muted">1</div> <div class="tb-loss">−50.0 pt</div></td>' in " ".join(
        page.split()
    )
    assert "Publish v" in page


def test_the_rule_set_list_runs_the_same_queries_however_many_versions(admin_client):
    url = reverse("admin:tiering_ruleset_changelist")
    for _ in range(4):
        make_ruleset(DRAFT)
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(url).status_code == 200
    # session, user, permissions (user's and group's), COUNT for the result, COUNT of all,
    # the page of rule sets with their users, their groups, the groups' tiers, the conditions.
    assert len(queries.captured_queries) == 10


def test_adding_a_rule_set_makes_the_next_draft_version_with_its_author(admin_client):
    data = {
        "notes": "Try a lower tier-3 bar",
        "grace_runs": 1,
        "groups-TOTAL_FORMS": 0,
        "groups-INITIAL_FORMS": 0,
        "groups-MIN_NUM_FORMS": 0,
        "groups-MAX_NUM_FORMS": 1000,
    }
    response = admin_client.post(reverse("admin:tiering_ruleset_add"), data)
    assert response.status_code == 302
    added = RuleSet.objects.get(notes="Try a lower tier-3 bar")
    assert (added.version, added.status, added.created_by) == (3, RuleSet.Status.DRAFT, admin_client.user)


def test_a_tier_group_cannot_be_added_for_tier_1(admin_client):
    draft = make_ruleset({})
    tier1 = Tier.objects.get(level=1)
    form = admin_client.get(reverse("admin:tiering_rulegroup_add")).content.decode()
    assert "3 — Lifetime" in form and "1 — Lowest" not in form  # not even offered
    response = admin_client.post(
        reverse("admin:tiering_rulegroup_add"),
        {
            "ruleset": draft.pk,
            "tier": tier1.pk,
            "match": "all",
            "conditions-TOTAL_FORMS": 0,
            "conditions-INITIAL_FORMS": 0,
            "conditions-MIN_NUM_FORMS": 0,
            "conditions-MAX_NUM_FORMS": 1000,
        },
    )
    assert "Select a valid choice" in response.content.decode()
    assert not draft.groups.exists()


def test_a_tier_can_be_renamed_and_recoloured_but_not_given_a_bad_colour(admin_client):
    tier = Tier.objects.get(level=3)
    url = reverse("admin:tiering_tier_change", args=[tier.pk])
    response = admin_client.post(url, {"name": "Lifetime", "colour": "purple", "description": "x"})
    assert "“purple” is not a colour: write it as # and six hex digits, e.g. #2f6fba." in response.content.decode()
    admin_client.post(url, {"name": "Champions", "colour": "#AA00CC", "description": "Our best.", "level": 1})
    tier.refresh_from_db()
    assert (tier.level, tier.name, tier.colour) == (3, "Champions", "#aa00cc")  # the level stays
    assert tier.history.first().history_user == admin_client.user


def test_the_preview_says_the_date_its_day_counts_count_to_the_run_in_force(admin_client):
    from tests.churn.factories import RetierRunFactory

    CustomerMetricsFactory(changed_as_of=dt.date(2026, 10, 1))  # a row last changed long before
    RetierRunFactory(as_of=dt.date(2026, 11, 20))
    draft = make_ruleset(DRAFT)
    page = admin_client.get(reverse("admin:tiering_ruleset_preview", args=[draft.pk])).content.decode()
    assert "(as of 20 Nov 2026)" in page


def test_a_group_nested_in_a_draft_group_takes_its_rule_set_and_tier_and_reads_as_one_condition(admin_client):
    group = make_ruleset(DRAFT).groups.get(tier__level=3)
    cond = group.conditions.get()
    data = group_form(group, [(cond.pk, "net_margin", "gte", "5000")])
    data |= {"children-TOTAL_FORMS": 1, "children-0-match": "any", "children-0-parent": group.pk}
    response = admin_client.post(reverse("admin:tiering_rulegroup_change", args=[group.pk]), data)
    assert response.status_code == 302
    nested = group.children.get()
    assert (nested.ruleset_id, nested.tier_id, nested.match) == (group.ruleset_id, group.tier_id, "any")
    Condition.objects.create(group=nested, metric="categories", op="gte", value=3)
    page = admin_client.get(change_url(group.ruleset)).content.decode()
    assert "Net margin ≥ €5,000 and ANY of (Categories bought ≥ 3)" in page


def test_the_rule_set_page_warns_about_a_condition_that_holds_for_nobody(admin_client):
    CustomerMetricsFactory(tier=2, orders=3)
    CustomerMetricsFactory(tier=1, orders=1)
    draft = make_ruleset({3: ("all", [("orders", "gte", 50)]), 2: ("all", [("orders", "gte", 0)])})
    page = admin_client.get(change_url(draft)).content.decode()
    assert "Tier 3: “Orders ≥ 50” holds for none of the 2 customers." in page
    assert "Tier 2: “Orders ≥ 0” holds for every customer: it decides nothing." in page


def test_a_relative_condition_is_saved_from_the_group_page_and_a_percentile_with_equals_is_refused(admin_client):
    group = make_ruleset(DRAFT).groups.get(tier__level=3)
    cond = group.conditions.get()
    url = reverse("admin:tiering_rulegroup_change", args=[group.pk])
    data = group_form(group, [(cond.pk, "net_margin", "eq", "0")])
    data |= {"conditions-0-percentile": "98", "conditions-0-population": "repeat"}
    page = admin_client.post(url, data).content.decode()
    assert "A percentile is a bound: compare with &gt;, ≥, &lt;, ≤, not = or ≠." in page

    data["conditions-0-op"] = "gte"
    assert admin_client.post(url, data).status_code == 302
    cond.refresh_from_db()
    assert str(cond) == "Net margin ≥ the 98th percentile of customers with 2+ orders in the window (and ≥ €0)"


def test_the_rule_page_shows_each_conditions_calibration_with_its_histogram(admin_client):
    for orders in (1, 2, 3, 4):
        CustomerMetricsFactory(orders=orders)
    draft = make_ruleset({3: ("all", [("orders", "gte", "3")]), 2: ("all", [("orders", "gte", "2")])})
    page = " ".join(admin_client.get(change_url(draft)).content.decode().split())
    assert "Calibration: each condition against the customers' latest metrics" in page
    assert "<b>2</b> of 4 pass it alone (50%)" in page  # orders ≥ 3: the customers with 3 and 4
    assert "<b>3</b> of 4 pass it alone (75%)" in page  # orders ≥ 2
    assert page.count("<canvas data-calibration=") == 2
    assert "js/calibration.js" in page


def test_the_rule_page_runs_the_same_queries_however_many_conditions(admin_client):
    CustomerMetricsFactory(orders=3)
    counted = []
    for n in (1, 9):
        draft = make_ruleset(
            {3: ("all", [("orders", "gte", str(k + 3)) for k in range(n)]), 2: ("all", [("orders", "gte", "2")])}
        )
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(change_url(draft)).status_code == 200
        counted.append(len(queries))
    assert counted[0] == counted[1]


def test_the_rule_page_warns_about_a_share_that_reads_like_a_percentage(admin_client):
    CustomerMetricsFactory()
    draft = make_ruleset({2: ("none", [("compensation_share", "gte", "1")])})
    page = admin_client.get(change_url(draft)).content.decode()
    assert (
        "“Compensation share ≥ 1” means 100% (compensation as large as the revenue). If you meant 1%, write 0.01."
        in page
    )


def test_a_share_typed_with_a_percent_sign_is_refused_with_the_decimal_to_type(admin_client):
    group = make_ruleset(DRAFT).groups.get(tier__level=2)
    cond = group.conditions.get()
    data = group_form(group, [(cond.pk, "orders", "gte", "2"), (None, "compensation_share", "lt", "5%")])
    response = admin_client.post(reverse("admin:tiering_rulegroup_change", args=[group.pk]), data)
    assert response.status_code == 200
    assert "Compensation share is a share written as a decimal: 5% is 0.05." in response.content.decode()
    assert group.conditions.count() == 1
