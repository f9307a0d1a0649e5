"""The from→to tier matrix: one partial, one layout, on the run page, the overview and the admin's
rule preview; its moves open the list of the customers they count."""

import re

import pytest
from django.urls import reverse

from tests.factories import CustomerMetricsFactory
from tests.tiering.rulesets import make_ruleset
from tiering.matrix import build_matrix, run_matrix
from tiering.models import RetierRun, Tier, TierChange

from .conftest import at

pytestmark = pytest.mark.django_db
# Where the draft puts people: tier 3 from 5,000 of net margin, tier 2 from two orders, else tier 1.
DRAFT = {3: ("all", [("net_margin", "gte", "5000")]), 2: ("all", [("orders", "gte", "2")])}
PARTIAL = "tiering/_matrix.html"


@pytest.fixture
def moves(make_user):
    """The same four moves twice: as a draft's preview over the tiers held now (Up 0 and Up 1 2 → 3,
    Down 3 → 2, Drop 2 → 1, Still stays in 1), and as a finished run that moved those customers."""
    held = {"Up 0": (2, 6000, 3), "Up 1": (2, 7000, 4), "Down": (3, 100, 2), "Drop": (2, 50, 1), "Still": (1, 0, 1)}
    customers = {
        name: CustomerMetricsFactory(tier=tier, net_margin=margin, orders=orders, customer__name=name).customer
        for name, (tier, margin, orders) in held.items()
    }
    draft = make_ruleset(DRAFT)
    run = RetierRun.objects.create(
        as_of="2026-11-01",
        status="succeeded",
        finished_at=at("2026-11-01T02:00:00"),
        matrix={"2->3": 2, "3->2": 1, "2->1": 1},
        moved=4,
    )
    for name, source, target in (("Up 0", 2, 3), ("Up 1", 2, 3), ("Down", 3, 2), ("Drop", 2, 1)):
        TierChange.objects.create(
            customer=customers[name], run=run, from_tier=source, to_tier=target, changed_at=at("2026-11-01T02:00:00")
        )
    return {"draft": draft, "run": run, "user": make_user(role="Admin", is_staff=True)}


def pages(client, moves) -> dict:
    client.force_login(moves["user"])
    urls = {
        "run": reverse("tiering:run_detail", args=[moves["run"].pk]),
        "overview": reverse("home"),
        "preview": reverse("admin:tiering_ruleset_preview", args=[moves["draft"].pk]),
    }
    return {name: client.get(url) for name, url in urls.items()}


def matrix_table(response) -> str:
    return re.search(r'<table class="matrix">.*?</table>', response.content.decode(), re.S).group(0)


def structure(table: str):
    """The header row as written, and each row's header and cells (class, number) as text; a cell
    of who stayed is compared by its class alone (a run does not count them, a preview does)."""
    head = re.sub(r"\s+", " ", re.search(r"<thead>.*?</thead>", table, re.S).group(0))
    rows = []
    for header, cells in re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', table, re.S):
        tds = re.findall(r'<td class="([^"]+)"[^>]*>(.*?)</td>', cells, re.S)
        rows.append((_text(header), [(kind, "" if kind == "same" else _text(body)) for kind, body in tds]))
    return head, rows


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_the_run_page_the_overview_and_the_rule_preview_draw_the_same_matrix(client, moves):
    responses = pages(client, moves)

    for response in responses.values():
        assert PARTIAL in [t.name for t in response.templates]
    drawn = {name: structure(matrix_table(response)) for name, response in responses.items()}
    assert drawn["run"] == drawn["overview"] == drawn["preview"]
    head, rows = drawn["run"]
    assert '>1</span><span class="tier-name">Lowest<' in head and 'class="matrix-moved">Moved<' in head
    assert rows == [
        ("1 Lowest", [("same", ""), ("zero", "0"), ("zero", "0"), ("matrix-moved", "0")]),
        ("2 Loyal", [("down", "1"), ("same", ""), ("up", "2"), ("matrix-moved", "3")]),
        ("3 Lifetime", [("zero", "0"), ("down", "1"), ("same", ""), ("matrix-moved", "1")]),
    ]


def test_each_move_in_a_runs_matrix_opens_the_list_of_its_customers(client, moves):
    responses = pages(client, moves)
    expected = {"2": ["Up 0", "Up 1"], "1": ["Down"]}  # per count: a run's cells 2 → 3, 3 → 2 and 2 → 1

    for name in ("run", "overview"):
        links = re.findall(r'<a href="([^"]+)" aria-label="([^"]+)">([0-9,]+)</a>', matrix_table(responses[name]))
        assert len(links) == 3, name
        for href, label, count in links:
            listed = client.get(href.replace("&amp;", "&"))
            found = sorted(row.customer.name for row in listed.context["page"].rows)
            source, target = re.search(r"from tier (\d) to tier (\d)", label).groups()
            assert f"moved_from={source}&amp;moved_to={target}" in href
            assert found == {("2", "3"): expected["2"], ("3", "2"): ["Down"], ("2", "1"): ["Drop"]}[(source, target)]
            assert len(found) == int(count)
    # the preview's numbers open no list (none holds a draft's moves); its movers link to their pages
    assert "<a " not in matrix_table(responses["preview"])
    drop = TierChange.objects.get(run=moves["run"], from_tier=2, to_tier=1).customer
    assert f'<a href="/customer/{drop.pk}/">Drop</a>' in responses["preview"].content.decode()


def test_the_matrix_has_a_row_and_a_column_for_every_tier_in_the_tier_table(client, moves):
    Tier.objects.create(level=4, name="Platinum", colour="#111111")
    run = moves["run"]
    run.matrix = {**run.matrix, "3->4": 5}
    run.save()
    client.force_login(moves["user"])

    head, rows = structure(matrix_table(client.get(reverse("tiering:run_detail", args=[run.pk]))))

    assert 'Platinum</span></th><th scope="col" class="matrix-moved">' in head
    assert [header for header, _ in rows] == ["1 Lowest", "2 Loyal", "3 Lifetime", "4 Platinum"]
    assert rows[2][1][3] == ("up", "5")


def test_a_dry_runs_counts_and_first_placements_are_counted_but_a_dry_run_links_nothing():
    tiers = list(Tier.objects.all())
    dry = RetierRun(pk=7, as_of="2026-11-01", dry_run=True, matrix={"new->2": 3, "1->2": 1})

    matrix = run_matrix(dry, tiers=tiers)

    assert [row.source for row in matrix.rows] == [None, 1, 2, 3]  # "new" first, as someone was placed
    assert (matrix.moved, matrix.new) == (1, 3)
    assert [(c.kind, c.count, c.url) for c in matrix.rows[0].cells] == [("zero", 0, None), ("new", 3, None)] + [
        ("zero", 0, None)
    ]
    real = run_matrix(RetierRun(pk=7, as_of="2026-11-01", matrix={"new->2": 3}), tiers=tiers)
    assert real.rows[0].cells[1].url == "/tiers/?run=7&moved_from=new&moved_to=2"
    assert build_matrix({}, tiers=tiers).rows[0].source == 1  # nobody new: no "new" row
