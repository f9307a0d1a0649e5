"""The rules editor in the dashboard: edit a draft in place, see the preview, publish, re-tier."""

import datetime as dt
from decimal import Decimal as D
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import CustomerFactory, CustomerMetricsFactory
from tests.tiering.retier_helpers import at, buy
from tiering.models import Condition, RetierRun, RuleGroup, RuleSet
from tiering.rules import Cond, Group, rules_from_ruleset
from tiering.services import retier_all

from .rulesets import make_ruleset

pytestmark = pytest.mark.django_db
DRAFT = {3: ("all", [("net_margin", "gte", "5000"), ("orders", "gte", "2")]), 2: ("all", [("orders", "gte", "2")])}


@pytest.fixture
def admin_client(client, make_user):
    user = make_user(role="Admin", username="alice")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def customers():
    """Held tiers as a run left them: two big spenders (margin 8,000 and 3,000), a regular, a one-off."""
    return [
        CustomerMetricsFactory(tier=3, revenue=D("9000"), cost=D("1000"), orders=9),
        CustomerMetricsFactory(tier=3, revenue=D("4000"), cost=D("1000"), orders=6),
        CustomerMetricsFactory(tier=2, orders=3),
        CustomerMetricsFactory(tier=1, orders=1),
    ]


def edit_url(ruleset):
    return reverse("tiering:rules_edit", args=[ruleset.pk])


def preview_url(ruleset):
    return reverse("tiering:rules_preview", args=[ruleset.pk])


class FormReader(HTMLParser):
    """What a browser would post from the editor's form: inputs, checked boxes, selected options."""

    def __init__(self):
        super().__init__()
        self.data, self.inside, self.select, self.first = {}, False, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "rule-editor":
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit",):
            if a.get("type") != "checkbox" or "checked" in a:
                self.data[a["name"]] = a.get("value", "on" if a.get("type") == "checkbox" else "")
        elif tag == "select":
            self.select, self.first = a["name"], True
        elif tag == "option" and self.select:
            if self.first or "selected" in a:
                self.data[self.select] = a.get("value", "")
            self.first = False

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        if tag == "form":
            self.inside = False


def form_of(response) -> dict:
    reader = FormReader()
    reader.feed(response.content.decode())
    return reader.data


def field_of(data: dict, suffix: str, value) -> str:
    """The name of the condition field whose current value is `value` (e.g. the net margin's)."""
    for name, current in data.items():
        if name.endswith(suffix) and current == value:
            return name
    raise AssertionError(f"no field *{suffix} = {value!r} in {data}")


def prefix_of(name: str) -> str:
    return name.rsplit("-", 1)[0]


def stored(ruleset):
    """Everything the draft holds, to compare before and after a refused save."""
    return (
        sorted(RuleGroup.objects.filter(ruleset=ruleset).values_list("id", "parent_id", "match")),
        sorted(
            Condition.objects.filter(group__ruleset=ruleset).values_list(
                "id", "group_id", "metric", "op", "value", "percentile", "population", "position"
            )
        ),
    )


def preview_rows(client, ruleset) -> dict:
    response = client.get(preview_url(ruleset), headers={"HX-Request": "true"})
    assert response.status_code == 200
    return {row["tier"].level: (row["now"], row["then"]) for row in response.context["rows"]}


# --- editing --------------------------------------------------------------------------------------


def test_an_admin_edits_a_threshold_and_sees_the_preview_change(admin_client, customers):
    draft = make_ruleset(DRAFT)
    assert preview_rows(admin_client, draft)[3] == (2, 1)  # only the 8,000 margin reaches 5,000
    data = form_of(admin_client.get(edit_url(draft)))
    data[field_of(data, "-value", "5000")] = "2500"

    response = admin_client.post(edit_url(draft), data)

    assert response.status_code == 302 and response["Location"] == edit_url(draft)
    page = admin_client.get(edit_url(draft)).content.decode()
    assert f"Draft v{draft.version} saved." in page
    assert preview_rows(admin_client, draft)[3] == (2, 2)  # 3,000 now reaches 2,500
    fragment = admin_client.get(preview_url(draft), headers={"HX-Request": "true"}).content.decode()
    assert "2 → <b>2</b>" in fragment
    assert {c.value for c in rules_from_ruleset(draft).conditions()} == {D("2500"), D("2")}


def test_the_saved_change_is_in_the_audit_trail_under_the_admins_name(admin_client, customers):
    draft = make_ruleset(DRAFT)
    data = form_of(admin_client.get(edit_url(draft)))
    data[field_of(data, "-value", "5000")] = "6000"
    admin_client.post(edit_url(draft), data)
    latest = Condition.history.filter(metric="net_margin", group__ruleset=draft).latest("history_date")
    assert (latest.value, latest.history_type, latest.history_user) == (D("6000"), "~", admin_client.user)


INVALID = [
    pytest.param(
        "-value", "2", "-3", "Orders is never negative: a negative threshold (-3) says nothing.", id="negative count"
    ),
    pytest.param("-metric", "net_margin", "compensation_share", "Did you mean 0.05?", id="share as a percentage"),
    pytest.param("-metric", "net_margin", "wealth", "Unknown metric “wealth”.", id="unknown metric"),
    pytest.param("-value", "5000", "five", "Enter a number.", id="not a number"),
    pytest.param("-percentile", "", "100", "A percentile lies between 0 and 100", id="percentile out of range"),
]


@pytest.mark.parametrize(("suffix", "current", "typed", "message"), INVALID)
def test_invalid_input_gets_its_field_error_and_leaves_the_draft_unchanged(
    admin_client, suffix, current, typed, message
):
    draft = make_ruleset(DRAFT)
    before = stored(draft)
    data = form_of(admin_client.get(edit_url(draft)))
    name = field_of(data, suffix, current)
    data[name] = typed
    if typed == "compensation_share":
        data[prefix_of(name) + "-op"], data[prefix_of(name) + "-value"] = "lt", "5"
    if suffix == "-percentile":
        data[prefix_of(name) + "-population"] = "repeat"
    # a valid change in the same save must not be written either
    other = field_of(data, "-value", "2")
    data[other] = "3"

    response = admin_client.post(edit_url(draft), data)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Not saved: 1 problem to fix" in page
    assert message in page
    assert (
        f'<a href="#id_{name}"' in page or f'<a href="#id_{prefix_of(name)}-' in page
    )  # the summary points at the field
    assert stored(draft) == before


def test_an_emptied_group_is_refused_and_nothing_is_written(admin_client):
    draft = make_ruleset(DRAFT)
    before = stored(draft)
    data = form_of(admin_client.get(edit_url(draft)))
    tier2 = next(c for c in Condition.objects.filter(group__ruleset=draft, group__tier__level=2))
    data[prefix_of(field_of(data, "-key", f"c{tier2.pk}")) + "-DELETE"] = "on"

    page = admin_client.post(edit_url(draft), data).content.decode()

    assert "The group has no condition, so it would place nobody." in page
    assert stored(draft) == before


def test_a_group_nested_beyond_the_limit_is_refused(admin_client):
    draft = make_ruleset(DRAFT)
    before = stored(draft)
    data = form_of(admin_client.get(edit_url(draft)))
    root = f"g{RuleGroup.objects.get(ruleset=draft, tier__level=3).pk}"
    # four levels of nested groups under tier 3's, each with a condition (the limit is three)
    groups, conds = int(data["group-TOTAL_FORMS"]), int(data["cond-TOTAL_FORMS"])
    parent = root
    for depth in range(4):
        i, j = groups + depth, conds + depth
        data |= {
            f"group-{i}-key": f"n{i}",
            f"group-{i}-parent": parent,
            f"group-{i}-level": "3",
            f"group-{i}-match": "any",
        }
        data |= {f"cond-{j}-key": f"x{j}", f"cond-{j}-group": f"n{i}", f"cond-{j}-metric": "orders"}
        data |= {f"cond-{j}-op": "gte", f"cond-{j}-value": str(depth + 3), f"cond-{j}-ORDER": "1"}
        parent = f"n{i}"
    data["group-TOTAL_FORMS"], data["cond-TOTAL_FORMS"] = str(groups + 4), str(conds + 4)

    page = admin_client.post(edit_url(draft), data).content.decode()

    assert "This group is nested 4 levels deep; groups nest at most 3 levels" in page
    assert stored(draft) == before


def test_adding_a_nested_group_and_filling_it_in_saves_it_under_its_parent(admin_client):
    draft = make_ruleset(DRAFT)
    root = RuleGroup.objects.get(ruleset=draft, tier__level=3)
    data = form_of(admin_client.get(edit_url(draft)))

    added = admin_client.post(edit_url(draft), {**data, "action": f"group:g{root.pk}"})
    assert stored(draft)[0] == [(root.pk, None, "all"), *stored(draft)[0][1:]]  # nothing saved by adding a row
    data = form_of(added)
    new_group = next(k for k, v in data.items() if k.endswith("-key") and v.startswith("n"))
    data[prefix_of(new_group) + "-match"] = "any"
    blank = next(k for k, v in data.items() if k.endswith("-key") and v.startswith("x"))
    data |= {prefix_of(blank) + "-metric": "categories", prefix_of(blank) + "-value": "3"}
    added = admin_client.post(edit_url(draft), {**data, "action": f"cond:{data[new_group]}"})
    data = form_of(added)
    second = [k for k, v in data.items() if k.endswith("-key") and v.startswith("x")][-1]
    data |= {prefix_of(second) + "-metric": "new_products", prefix_of(second) + "-value": "1"}

    assert admin_client.post(edit_url(draft), data).status_code == 302

    tier3 = rules_from_ruleset(draft).tried()[0]
    assert tier3.groups == (Group(3, "any", (Cond("categories", "gte", D("3")), Cond("new_products", "gte", D("1")))),)
    assert len(tier3.conditions) == 2


def test_moving_a_condition_down_and_saving_keeps_the_new_order(admin_client):
    draft = make_ruleset(DRAFT)
    data = form_of(admin_client.get(edit_url(draft)))
    first = field_of(data, "-metric", "net_margin")
    moved = admin_client.post(edit_url(draft), {**data, "action": f"down:{data[prefix_of(first) + '-key']}"})
    assert admin_client.post(edit_url(draft), form_of(moved)).status_code == 302
    assert [c.metric for c in rules_from_ruleset(draft).tried()[0].conditions] == ["orders", "net_margin"]


def test_removing_a_nested_group_removes_its_conditions(admin_client):
    draft = make_ruleset({3: ("all", [("orders", "gte", "2"), ("any", [("categories", "gte", "3")])])})
    nested = RuleGroup.objects.get(ruleset=draft, parent__isnull=False)
    data = form_of(admin_client.get(edit_url(draft)))
    data[prefix_of(field_of(data, "-key", f"g{nested.pk}")) + "-DELETE"] = "on"
    assert admin_client.post(edit_url(draft), data).status_code == 302
    assert rules_from_ruleset(draft).tried()[0].groups == ()
    assert not Condition.objects.filter(metric="categories", group__ruleset=draft).exists()


def test_a_published_version_is_read_only_and_offers_a_draft_and_a_re_tier(admin_client):
    published = RuleSet.objects.get(status=RuleSet.Status.PUBLISHED)
    page = admin_client.get(edit_url(published)).content.decode()
    assert 'id="rule-editor"' not in page
    assert reverse("tiering:run_now") in page and "Run re-tier now" in page
    response = admin_client.post(reverse("tiering:rules_start_draft", args=[published.pk]))
    draft = RuleSet.objects.get(status=RuleSet.Status.DRAFT)
    assert response["Location"] == edit_url(draft)
    assert stored(draft)[1] and [c[2:] for c in stored(draft)[1]] == [c[2:] for c in stored(published)[1]]


# --- publishing -------------------------------------------------------------------------------------


def test_publishing_from_the_editor_records_the_version_the_next_run_applies(admin_client):
    big = CustomerFactory()
    buy(big, at("2026-03-01"), amount="9000.00", cost="1000.00")
    buy(big, at("2026-05-01"), amount="100.00")
    draft = make_ruleset({3: ("all", [("orders", "gte", "2")]), 2: ("all", [("orders", "gte", "1")])})

    response = admin_client.post(reverse("tiering:rules_publish", args=[draft.pk]), follow=True)

    assert f"v{draft.version} is now in force" in response.content.decode()
    draft.refresh_from_db()
    assert (draft.status, draft.published_by) == (RuleSet.Status.PUBLISHED, admin_client.user)
    run = retier_all(as_of=dt.date(2026, 11, 22), triggered_by="test")
    assert (run.status, run.ruleset_id) == (RetierRun.Status.SUCCEEDED, draft.pk)
    assert run.counts == {"3": 1}


def test_a_draft_with_problems_is_not_published(admin_client):
    draft = make_ruleset({3: ("all", [])})
    response = admin_client.post(reverse("tiering:rules_publish", args=[draft.pk]), follow=True)
    assert f"v{draft.version} was not published" in response.content.decode()
    assert RuleSet.objects.get(pk=draft.pk).status == RuleSet.Status.DRAFT


# --- queries ----------------------------------------------------------------------------------------


def count_queries(client, url, **kwargs) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, **kwargs).status_code == 200
    return len(queries)


def conditions(n):
    return [("orders", "gte", str(i + 1)) for i in range(n)]


def test_the_editor_preview_and_index_take_as_many_queries_for_3_conditions_as_for_30(admin_client, customers):
    small = make_ruleset({3: ("all", conditions(2)), 2: ("any", [("orders", "gte", "1"), ("any", conditions(1))])})
    big = make_ruleset({3: ("all", conditions(20)), 2: ("any", [("orders", "gte", "1"), ("any", conditions(9))])})
    for url in (edit_url, preview_url):
        counts = [count_queries(admin_client, url(r), headers={"HX-Request": "true"}) for r in (small, big)]
        assert counts[0] == counts[1], url
    # The editor: session and user (2), permissions (2), the rule set, its tiers, its groups, its
    # conditions (4), the menu's open-item count (an admin works the queue too): 9 in all.
    assert count_queries(admin_client, edit_url(big)) == 9
    index = count_queries(admin_client, reverse("tiering:rules"))
    make_ruleset({3: ("all", conditions(40))})
    assert count_queries(admin_client, reverse("tiering:rules")) == index


def test_saving_one_change_takes_as_many_queries_for_3_conditions_as_for_30(admin_client):
    counts = []
    for n in (3, 30):
        draft = make_ruleset({3: ("all", conditions(n))})
        data = form_of(admin_client.get(edit_url(draft)))
        for name in [k for k in data if k.endswith("-value")]:
            data[name] = str(int(data[name]) + 100)
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.post(edit_url(draft), data).status_code == 302
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- the service, called directly --------------------------------------------------------------------


def edits_of(ruleset):
    from tiering.services_rules import ConditionEdit, GroupEdit

    groups = [
        GroupEdit(f"g{g.pk}", f"g{g.parent_id}" if g.parent_id else None, g.tier.level, g.match, g.pk)
        for g in RuleGroup.objects.filter(ruleset=ruleset).select_related("tier")
    ]
    conditions = [
        ConditionEdit(f"g{c.group_id}", c.metric, c.op, c.value, c.percentile, c.population, c.position, c.pk)
        for c in Condition.objects.filter(group__ruleset=ruleset)
    ]
    return groups, conditions


def test_a_version_that_is_not_a_draft_cannot_be_saved(make_user):
    from django.core.exceptions import ValidationError

    from tiering.services_rules import save_draft

    published = RuleSet.objects.get(status=RuleSet.Status.PUBLISHED)
    groups, conditions = edits_of(published)
    before = stored(published)
    with pytest.raises(ValidationError, match="cannot be changed"):
        save_draft(ruleset=published, user=make_user(role="Admin"), groups=groups, conditions=conditions)
    assert stored(published) == before


def test_a_condition_of_another_draft_is_refused_and_nothing_is_written(make_user):
    from dataclasses import replace

    from django.core.exceptions import ValidationError

    from tiering.services_rules import save_draft

    mine, other = make_ruleset(DRAFT), make_ruleset(DRAFT)
    groups, conditions = edits_of(mine)
    foreign = Condition.objects.filter(group__ruleset=other).first()
    conditions = [replace(conditions[0], value=D("1")), *conditions[1:-1], replace(conditions[-1], pk=foreign.pk)]
    before = stored(mine), stored(other)
    with pytest.raises(ValidationError, match="changed while you edited it"):
        save_draft(ruleset=mine, user=make_user(role="Admin"), groups=groups, conditions=conditions)
    assert (stored(mine), stored(other)) == before


def test_posting_to_a_published_version_changes_nothing(admin_client):
    published = RuleSet.objects.get(status=RuleSet.Status.PUBLISHED)
    before = stored(published)
    response = admin_client.post(edit_url(published), {"action": "cond:g1"}, follow=True)
    assert "start a draft from it" in response.content.decode()
    assert stored(published) == before


def test_the_editor_preview_brings_each_conditions_calibration_and_it_follows_a_saved_threshold(
    admin_client, customers
):
    draft = make_ruleset(DRAFT)

    def calibration():
        fragment = admin_client.get(preview_url(draft), headers={"HX-Request": "true"}).content.decode()
        page = " ".join(fragment.split())
        assert 'id="calibration"' in page and page.count("<canvas data-calibration=") == 3
        return page

    total = CustomerMetricsFactory._meta.model.objects.count()
    assert f"<b>1</b> of {total} pass it alone" in calibration()  # net margin ≥ 5,000: the 8,000 alone
    data = form_of(admin_client.get(edit_url(draft)))
    data[field_of(data, "-value", "5000")] = "2500"
    admin_client.post(edit_url(draft), data)

    assert f"<b>2</b> of {total} pass it alone" in calibration()  # 3,000 reaches 2,500 too
