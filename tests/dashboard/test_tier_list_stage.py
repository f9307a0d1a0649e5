"""The tier lists show each customer's lifecycle stage and filter by it."""

import datetime as dt

import pytest
from django.urls import reverse

from churn.models import CustomerRisk

pytestmark = pytest.mark.django_db


def test_the_list_shows_the_stage_and_keeps_only_the_stage_asked_for(as_manager, make_metrics):
    newcomer, regular = make_metrics(tier=2, name="Nina New"), make_metrics(tier=2, name="Rex Regular")
    make_metrics(tier=2, name="Una Unscored")
    for metrics, stage in ((newcomer, "new"), (regular, "active")):
        CustomerRisk.objects.create(customer=metrics.customer, risk=0.3, stage=stage, as_of=dt.date(2026, 1, 1))

    everyone = as_manager.get(reverse("dashboard:tier_list")).content.decode()
    only_new = as_manager.get(reverse("dashboard:tier_list"), {"stage": "new"}).content.decode()

    assert all(name in everyone for name in ("Nina New", "Rex Regular", "Una Unscored"))
    assert ">new<" in everyone
    assert "Nina New" in only_new
    assert "Rex Regular" not in only_new and "Una Unscored" not in only_new


def _table(page: str) -> tuple[list[str], list[list[str]]]:
    """The customer table's header cells and each row's cells, as text."""
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.head, self.rows, self.cell, self.in_table = [], [], None, False

        def handle_starttag(self, tag, attrs):
            if tag == "table" and "customers" in (dict(attrs).get("class") or ""):
                self.in_table = True
            elif self.in_table and tag == "tr":
                self.rows.append([])
            elif self.in_table and tag in ("th", "td"):
                self.cell = []

        def handle_endtag(self, tag):
            if tag == "table":
                self.in_table = False
            elif self.in_table and tag in ("th", "td") and self.cell is not None:
                self.rows[-1].append(" ".join("".join(self.cell).split()))
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    parser = Cells()
    parser.feed(page)
    return parser.rows[0], parser.rows[1:]


@pytest.mark.parametrize("url", [reverse("dashboard:tier_list"), reverse("dashboard:tier_list_level", args=[2])])
def test_each_row_has_a_cell_under_every_header_and_the_stage_under_stage(as_manager, make_metrics, url):
    newcomer = make_metrics(tier=2, name="Nina New")
    make_metrics(tier=2, name="Una Unscored")
    CustomerRisk.objects.create(customer=newcomer.customer, risk=0.3, stage="new", as_of=dt.date(2026, 1, 1))

    head, rows = _table(as_manager.get(url).content.decode())

    assert rows and all(len(row) == len(head) for row in rows), (head, rows)
    stage = {name: row[head.index("Stage")] for row in rows for name in ("Nina New", "Una Unscored") if name in row[0]}
    assert stage == {"Nina New": "new", "Una Unscored": "—"}
