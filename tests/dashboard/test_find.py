"""Finding customers: search by name, email, company or id; totals of filtered lists; sorting by
name, tier and account manager; saved views; customers not placed yet; what moved a customer."""

import re

import pytest
from django.db import connection
from django.urls import reverse

from customers.search import search
from dashboard import selectors
from dashboard.models import SavedView
from tests.factories import CustomerFactory, CustomerMetricsFactory
from tiering.models import RetierRun, RuleSet, TierChange

from .conftest import at

pytestmark = pytest.mark.django_db
URL = reverse("dashboard:tier_list")


def names(response) -> list[str]:
    return [row.customer.name for row in response.context["page"].rows]


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# --- search ---


@pytest.mark.parametrize(
    "query",
    ["brightwater", "BRIGHTWATER LOG", "ops@brightwater", "C-7781", "c-77", "water logistics"],
)
def test_search_finds_a_customer_by_company_email_or_id_anywhere_in_them(as_manager, make_metrics, query):
    found = make_metrics(name="Jane Roe", email="ops@brightwater.example", external_id="C-7781")
    found.customer.company = "Brightwater Logistics GmbH"
    found.customer.save()
    make_metrics(name="Someone Else")

    assert names(as_manager.get(URL, {"q": query})) == ["Jane Roe"]


def test_a_broad_search_gives_the_same_rows_as_a_narrow_one(as_manager, make_metrics, monkeypatch):
    """Above SEARCH_IDS matches the filter stays a semi-join on the index: same answer."""
    from dashboard import filters

    for i in range(4):
        make_metrics(name=f"Harbour {i}", net_margin=str(100 + i))
    make_metrics(name="Elsewhere")
    narrow = names(as_manager.get(URL, {"q": "harbour"}))
    monkeypatch.setattr(filters, "SEARCH_IDS", 2)
    assert names(as_manager.get(URL, {"q": "harbour"})) == narrow == [f"Harbour {i}" for i in (3, 2, 1, 0)]


def test_search_takes_like_wildcards_literally(as_manager, make_metrics):
    make_metrics(name="Half_Moon Bakery")
    make_metrics(name="HalfXMoon Bakery")
    assert names(as_manager.get(URL, {"q": "half_moon"})) == ["Half_Moon Bakery"]
    assert names(as_manager.get(URL, {"q": "100%"})) == []


def test_a_term_shorter_than_three_characters_matches_an_exact_id_and_says_so(as_manager, make_metrics):
    make_metrics(name="Exact", external_id="A1")
    make_metrics(name="Contains A1 in the name", external_id="B2")
    response = as_manager.get(URL, {"q": "A1"})
    assert names(response) == ["Exact"]
    assert "shorter than 3 characters" in text(response)


def test_the_search_is_answered_by_the_trigram_index(make_metrics):
    """The filter's SQL must be the indexed expression itself, or a million rows are scanned."""
    make_metrics(name="Indexed Company")
    sql, params = search("indexed comp").order_by().values("id").query.sql_with_params()
    with connection.cursor() as cursor:
        # Only a bitmap scan is left to the planner (GIN has no other): the trigram index, if the
        # filter is its expression; a sequential scan otherwise.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "customer_search_trgm_idx" in plan


# --- totals ---


def test_a_filtered_list_says_how_many_customers_match(as_manager, make_metrics):
    for margin in ("100", "200", "300"):
        make_metrics(net_margin=margin)
    make_metrics(net_margin="-50")

    body = text(as_manager.get(URL, {"min_margin": "0", "per_page": 25}))
    assert "3 customers match" in body
    body = text(as_manager.get(URL, {"min_margin": "250"}))
    assert "1 customer matches" in body


def _analyze():
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tiering_customermetrics")


def test_above_the_cap_the_total_is_the_planners_estimate_and_says_about(as_manager, make_metrics, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 5)
    for _ in range(8):
        make_metrics(net_margin="10")
    _analyze()  # the planner now expects 8 rows: above the cap, no COUNT is run
    response = as_manager.get(URL, {"min_margin": "0"})
    total = response.context["total"]
    assert (total.exact, total.n) == (False, 8)
    assert "about 8 customers match" in text(response)


def test_when_the_estimate_is_low_the_bounded_count_says_more_than_the_cap(as_manager, make_metrics, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 5)
    make_metrics(net_margin="10")
    _analyze()  # the planner expects 1 row...
    for _ in range(9):  # ...and there are 10
        make_metrics(net_margin="10")
    response = as_manager.get(URL, {"min_margin": "0"})
    assert "more than 5 customers match" in text(response)


# --- sorting ---


def test_it_sorts_by_customer_name_both_ways(as_manager, make_metrics):
    for name in ("Bravo", "Delta", "Charlie", "Alpha", "Bravo"):
        make_metrics(name=name, net_margin="1")
    ascending = names(as_manager.get(URL, {"sort": "name"}))
    assert ascending == ["Alpha", "Bravo", "Bravo", "Charlie", "Delta"]
    assert names(as_manager.get(URL, {"sort": "-name"})) == list(reversed(ascending))


def test_it_sorts_by_tier_with_the_customer_id_breaking_ties(as_manager, make_metrics):
    rows = [make_metrics(tier=t, name=f"T{t}-{i}") for i, t in enumerate((2, 3, 1, 2, 3, 1))]
    expected = [m.customer.name for m in sorted(rows, key=lambda m: (m.tier, m.customer_id))]
    assert names(as_manager.get(URL, {"sort": "tier"})) == expected
    assert names(as_manager.get(URL, {"sort": "-tier"})) == list(reversed(expected))


def test_it_sorts_by_account_manager_then_name_both_ways(as_manager, make_metrics, make_user):
    first, second = make_user("Account manager"), make_user("Account manager")
    for i in range(5):
        make_metrics(name=f"A{i}", account_manager=second)  # first by name, not by manager
        make_metrics(name=f"Z{i}", account_manager=first)
    response = as_manager.get(URL, {"sort": "manager", "per_page": 25})
    managers = [row.customer.account_manager_id for row in response.context["page"].rows]
    assert managers == [first.pk] * 5 + [second.pk] * 5
    assert names(response) == [f"Z{i}" for i in range(5)] + [f"A{i}" for i in range(5)]  # within a manager, by name
    descending = as_manager.get(URL, {"sort": "-manager", "per_page": 25})
    assert names(descending) == list(reversed(names(response)))


def test_a_sorted_header_link_is_offered_for_name_tier_and_manager(as_manager, make_metrics):
    make_metrics()
    body = as_manager.get(URL).content.decode()
    for key in ("name", "tier", "manager"):
        assert f"sort={key}" in body


@pytest.mark.parametrize("path", [URL, reverse("dashboard:tier_list_level", args=[2])])
def test_every_row_has_one_cell_under_each_header(as_manager, make_metrics, path):
    make_metrics(tier=2)
    body = as_manager.get(path).content.decode()
    table = body.split('<table class="table customers"')[1].split("</table>")[0]
    headers = table.count("<th ")
    rows = table.split("<tbody>")[1].split("</tr>")[:-1]
    assert rows and all(row.count("<td") == headers for row in rows), (headers, rows)


# --- saved views ---


def test_a_user_saves_a_view_and_sees_it_as_a_link_above_the_list(client, manager, make_metrics):
    make_metrics()
    client.force_login(manager)
    response = client.post(
        reverse("dashboard:saved_view_create"),
        {"name": "  My  big ones ", "level": "3", "query": "min_margin=1000&page=4"},
    )
    view = SavedView.objects.get(user=manager)
    assert (view.name, view.level, view.query) == ("My big ones", 3, "min_margin=1000")
    assert response["Location"] == "/tiers/3/?min_margin=1000"
    body = client.get(URL).content.decode()
    assert '<a href="/tiers/3/?min_margin=1000">My big ones</a>' in body


def test_saved_views_are_private_to_their_owner(client, manager, make_user):
    other = make_user("Account manager")
    theirs = SavedView.objects.create(user=other, name="Theirs", query="q=acme")
    client.force_login(manager)

    assert "Theirs" not in client.get(URL).content.decode()
    assert (
        client.post(reverse("dashboard:saved_view_rename", args=[theirs.pk]), {"name": "Mine now"}).status_code == 404
    )
    assert client.post(reverse("dashboard:saved_view_delete", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"
    # The same name is free for another user.
    client.post(reverse("dashboard:saved_view_create"), {"name": "Theirs", "level": "", "query": ""})
    assert SavedView.objects.filter(name="Theirs").count() == 2


def test_a_view_is_renamed_and_deleted_by_its_owner_and_a_duplicate_name_is_refused(client, manager):
    client.force_login(manager)
    view = SavedView.objects.create(user=manager, name="First", query="")
    SavedView.objects.create(user=manager, name="Second", query="")

    client.post(reverse("dashboard:saved_view_rename", args=[view.pk]), {"name": "Second"}, follow=True)
    view.refresh_from_db()
    assert view.name == "First"
    response = client.post(reverse("dashboard:saved_view_create"), {"name": "Second", "query": ""}, follow=True)
    assert "You already have a view named “Second”" in response.content.decode()

    client.post(reverse("dashboard:saved_view_rename", args=[view.pk]), {"name": "Renamed"})
    view.refresh_from_db()
    assert view.name == "Renamed"
    client.post(reverse("dashboard:saved_view_delete", args=[view.pk]))
    assert list(SavedView.objects.filter(user=manager).values_list("name", flat=True)) == ["Second"]


def test_a_view_with_an_empty_name_is_refused_and_nothing_is_saved(client, manager):
    client.force_login(manager)
    response = client.post(reverse("dashboard:saved_view_create"), {"name": "  ", "query": "q=x"}, follow=True)
    assert "Give the view a name." in response.content.decode()
    assert not SavedView.objects.exists()


def test_the_list_query_count_does_not_grow_with_saved_views(client, manager, make_metrics, django_assert_num_queries):
    make_metrics()
    client.force_login(manager)
    for n in (1, 6):
        for i in range(n):
            SavedView.objects.get_or_create(user=manager, name=f"View {i}", query=f"q=x{i}")
        # session, user, 2 permissions, tiers, page, last run, highest placed id, not placed yet,
        # saved views, managers, the menu's open-item count
        with django_assert_num_queries(12):
            client.get(URL)


# --- customers not placed yet ---


def test_an_imported_customer_shows_at_once_as_not_placed_yet(as_manager, make_metrics):
    make_metrics(name="Placed Ltd")
    CustomerFactory(name="Fresh Import Co")

    response = as_manager.get(URL)
    body = text(response)
    assert "Not placed yet · 1 customer" in body
    assert "Fresh Import Co" in body and "not placed yet" in body
    assert names(response) == ["Placed Ltd"]
    # Search finds them too; a tier's list and a metric filter do not (they have no tier, no metrics).
    assert "Fresh Import Co" in text(as_manager.get(URL, {"q": "fresh import"}))
    assert "Fresh Import Co" not in text(as_manager.get(URL, {"q": "placed ltd"}))
    assert "Fresh Import Co" not in text(as_manager.get(reverse("dashboard:tier_list_level", args=[2])))
    assert "Fresh Import Co" not in text(as_manager.get(URL, {"min_margin": "0"}))


def test_with_nobody_placed_yet_the_list_shows_the_imported_customers(as_manager):
    CustomerFactory(name="First Ever")
    body = text(as_manager.get(URL))
    assert "First Ever" in body
    assert "Nobody has a tier yet" in body


def test_admins_can_start_the_re_tier_from_the_not_placed_rows(client, admin_user, as_manager):
    CustomerFactory(name="Waiting")
    assert "Run re-tier now" not in text(as_manager.get(URL))
    client.force_login(admin_user)
    assert "Run re-tier now" in text(client.get(URL))


# --- what moved a customer; matrix and preview links ---


def _run(version, *, cuts=(), day="2026-10-01"):
    ruleset = RuleSet.objects.get_or_create(version=version, defaults={"status": "retired"})[0]
    return RetierRun.objects.create(
        as_of=day, status="succeeded", ruleset=ruleset, cuts=list(cuts), finished_at=at(f"{day}T01:00:00")
    )


def _cut(value):
    return {"metric": "lifetime_net_margin", "population": "repeat", "percentile": "98", "cut": value, "eligible": 900}


def _why(value, *, cut, held):
    """A stored why whose tier-3 group compares lifetime net margin with the run's 98th percentile."""
    condition = {
        "metric": "lifetime_net_margin",
        "op": "gte",
        "threshold": cut,
        "value": value,
        "held": held,
        "percentile": "98",
        "population": "repeat",
        "floor": "500",
        "cut": cut,
        "eligible": 900,
    }
    return {
        "tier": 3 if held else 2,
        "version": 2,
        "groups": [{"level": 3, "match": "all", "held": held, "conditions": [condition]}],
    }


def _history(client, metrics) -> str:
    body = text(client.get(reverse("dashboard:customer", args=[metrics.customer_id])))
    return body.split("Tier history")[1].split("</ol>")[0]


def test_the_history_says_a_rule_set_change_moved_the_customer(as_manager, make_metrics):
    metrics = make_metrics(tier=3)
    _run(101, day="2026-09-01")
    run = _run(102, day="2026-10-01")
    TierChange.objects.create(
        customer=metrics.customer, run=run, from_tier=2, to_tier=3, changed_at=at("2026-10-01T01:00:00"), why={}
    )
    history = _history(as_manager, metrics)
    assert "Rule set v101 → v102." in history
    assert "Threshold" not in history


def test_a_threshold_the_new_rule_set_replaced_is_not_said_to_have_moved(as_manager, make_metrics):
    metrics = make_metrics(tier=3)
    _run(107, cuts=[_cut("1200.00")], day="2026-09-01")
    replaced = {**_cut("1100.00"), "percentile": "85"}
    run = _run(108, cuts=[replaced], day="2026-10-01")
    TierChange.objects.create(
        customer=metrics.customer, run=run, from_tier=2, to_tier=3, changed_at=at("2026-10-01T01:00:00"), why={}
    )
    history = _history(as_manager, metrics)
    assert "Rule set v107 → v108." in history
    assert "Threshold" not in history and "floor" not in history


def test_the_history_says_which_threshold_moved_the_customer_and_from_what_to_what(as_manager, make_metrics):
    metrics = make_metrics(tier=2)
    _run(103, cuts=[_cut("1200.00")], day="2026-09-01")
    run = _run(103, cuts=[_cut("1500.00")], day="2026-10-01")
    why = _why("1300.00", cut="1500", held=False)  # 1,300 cleared 1,200, not 1,500
    TierChange.objects.create(
        customer=metrics.customer, run=run, from_tier=3, to_tier=2, changed_at=at("2026-10-01T01:00:00"), why=why
    )
    history = _history(as_manager, metrics)
    assert (
        "Threshold Lifetime net margin (98th percentile of customers with 2+ orders in the window) "
        "moved from €1,200 to €1,500, which decided it for their €1,300." in history
    )
    assert "Rule set v" not in history


def test_a_threshold_that_moved_without_deciding_is_not_blamed(as_manager, make_metrics):
    metrics = make_metrics(tier=2)
    before = _run(104, cuts=[_cut("1200.00")], day="2026-09-01")
    run = _run(104, cuts=[_cut("1500")], day="2026-10-01")
    why = _why("900.00", cut="1500", held=False)  # below both: their own figure fell
    TierChange.objects.create(
        customer=metrics.customer, run=run, from_tier=3, to_tier=2, changed_at=at("2026-10-01T01:00:00"), why=why
    )
    history = _history(as_manager, metrics)
    assert (
        f"Same rules (rule set v104) as run {before.pk}, and no threshold that moved decided it: "
        "their own figures moved them." in history
    )
    assert "Threshold" not in history


def test_with_rules_and_thresholds_unchanged_the_customers_figures_moved_them(as_manager, make_metrics):
    metrics = make_metrics(tier=2)
    before = _run(106, cuts=[_cut("1200.00")], day="2026-09-01")
    run = _run(106, cuts=[_cut("1200")], day="2026-10-01")
    TierChange.objects.create(
        customer=metrics.customer,
        run=run,
        from_tier=3,
        to_tier=2,
        changed_at=at("2026-10-01T01:00:00"),
        why=_why("900", cut="1200", held=False),
    )
    history = _history(as_manager, metrics)
    assert f"Same rules (rule set v106) and thresholds as run {before.pk}: their own figures moved them." in history


def test_each_cell_of_the_run_matrix_links_to_the_customers_it_counts(client, admin_user, make_metrics):
    run = _run(105)
    movers = [make_metrics(tier=3, name=f"Up {i}") for i in range(2)]
    new = make_metrics(tier=1, name="Newcomer")
    make_metrics(tier=3, name="Stayed")
    for m in movers:
        TierChange.objects.create(
            customer=m.customer, run=run, from_tier=2, to_tier=3, changed_at=at("2026-10-01T01:00:00")
        )
    TierChange.objects.create(
        customer=new.customer, run=run, from_tier=None, to_tier=1, changed_at=at("2026-10-01T01:00:00")
    )
    run.matrix = {"2->3": 2, "new->1": 1}
    run.save()
    client.force_login(admin_user)

    page = client.get(reverse("tiering:run_detail", args=[run.pk])).content.decode()
    links = dict(re.findall(r'<a href="(/tiers/\?run=[^"]+)"[^>]*>([0-9,]+)</a>', page))
    assert set(links.values()) == {"2", "1"}
    by_count = {n: href.replace("&amp;", "&") for href, n in links.items()}
    assert sorted(names(client.get(by_count["2"]))) == ["Up 0", "Up 1"]
    assert names(client.get(by_count["1"])) == ["Newcomer"]


def test_names_in_the_rule_preview_link_to_the_customer(client, make_user):
    from tests.tiering.rulesets import make_ruleset

    client.force_login(make_user(role="Admin", is_staff=True))
    metrics = CustomerMetricsFactory(tier=2, orders=1, customer__name="Falling Ltd")
    CustomerMetricsFactory(tier=2, orders=3)
    draft = make_ruleset({3: ("all", [("net_margin", "gte", "5000")]), 2: ("all", [("orders", "gte", "2")])})
    page = client.get(reverse("admin:tiering_ruleset_preview", args=[draft.pk])).content.decode()
    assert f'<a href="/customer/{metrics.customer_id}/">Falling Ltd</a>' in page
