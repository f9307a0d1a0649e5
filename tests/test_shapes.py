"""scripts/shapes.py: every synthetic shape imports through the real importer, so the judge never rots."""

import csv
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from customers.models import Customer, OrderLine, Product, Ticket
from scripts import shapes

SYNTHETIC = sorted(name for name in shapes.SHAPES if name != "cdnow")


def rows(directory: Path, kind: str) -> list[dict]:
    with open(directory / f"{kind}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.django_db
@pytest.mark.parametrize("shape", SYNTHETIC)
def test_each_shape_imports_every_row_through_import_data(shape, tmp_path):
    shapes.write_shape(shape, out=tmp_path, customers=30, seed=3)
    for kind in shapes.KINDS:
        out = StringIO()
        call_command("import_data", kind, str(tmp_path / f"{kind}.csv"), stdout=out)
        assert out.getvalue().startswith(f"imported {kind}: {len(rows(tmp_path, kind))} rows")
    assert Customer.objects.count() == 30
    assert OrderLine.objects.count() == len(rows(tmp_path, "orders")) > 0
    assert Product.objects.count() == len(rows(tmp_path, "products"))
    assert Ticket.objects.count() == len(rows(tmp_path, "tickets"))


def test_the_same_seed_writes_the_same_files_and_another_seed_another_business(tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        shapes.write_shape("base", out=tmp_path / name, customers=50, seed=seed)
    orders = {name: (tmp_path / name / "orders.csv").read_bytes() for name in "abc"}
    assert orders["a"] == orders["b"] != orders["c"]


def test_a_currency_shape_is_the_base_business_with_every_amount_scaled(tmp_path):
    for shape in ("base", "small-currency", "big-currency"):
        shapes.write_shape(shape, out=tmp_path / shape, customers=40, seed=2)
    base, small, big = (rows(tmp_path / s, "orders") for s in ("base", "small-currency", "big-currency"))
    assert [(r["order_id"], r["sku"]) for r in base] == [(r["order_id"], r["sku"]) for r in small]
    assert all(Decimal(s["amount"]) == Decimal(b["amount"]) * 100 for b, s in zip(base, small))
    assert all(Decimal(s["cost"]) == Decimal(b["cost"]) * 100 for b, s in zip(base, small))
    assert all(abs(Decimal(g["amount"]) * 100 - Decimal(b["amount"])) <= Decimal("0.5") for b, g in zip(base, big))


def test_one_category_no_costs_has_one_category_and_no_cost_column(tmp_path):
    shapes.write_shape("one-category-no-costs", out=tmp_path, customers=30, seed=1)
    assert {r["category"] for r in rows(tmp_path, "products")} == {"Category 1"}
    assert "cost" not in rows(tmp_path, "orders")[0]
    assert rows(tmp_path, "tickets") == []


def test_half_one_order_has_about_half_its_customers_with_exactly_one_order(tmp_path):
    shapes.write_shape("half-one-order", out=tmp_path, customers=2000, seed=1)
    truth = rows(tmp_path, "truth")
    share = sum(r["orders"] == "1" for r in truth) / len(truth)
    assert 0.45 <= share <= 0.6


def test_the_planted_truth_names_who_stopped_buying_and_they_never_order_after(tmp_path):
    shapes.write_shape("18-months", out=tmp_path, customers=300, seed=1)
    last_order = {}
    for line in rows(tmp_path, "orders"):
        last_order[line["customer_id"]] = max(last_order.get(line["customer_id"], ""), line["placed_at"][:10])
    stopped = {r["external_id"]: r["stopped_on"] for r in rows(tmp_path, "truth") if r["stopped_on"]}
    assert 50 < len(stopped) < 300
    assert all(last_order[customer] == day for customer, day in stopped.items())
    assert min(last_order.values()) >= "2024-07-01"  # 18 months before the log's end, 2025-12-31


def test_cdnow_offline_and_without_the_wheel_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip with no package index and nothing to find: offline
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(shapes.CdnowUnavailable, match="Put a copy of the wheel at .*Lifetimes-0.11.3-py3-none-any.whl"):
        shapes.cdnow_wheel(cache=tmp_path)


def test_cdnow_refuses_a_wheel_that_is_not_pypis(tmp_path):
    (tmp_path / shapes.CDNOW_WHEEL).write_bytes(b"not the wheel")
    with pytest.raises(shapes.CdnowUnavailable, match="not PyPI's"):
        shapes.cdnow_wheel(cache=tmp_path)


# --- scripts/judge.py's judgments, on hand-made customers -----------------------------------------


def customer(external_id, *, tier=2, revenue="100", days_since=10, median_gap=None):
    from scripts import judge

    gap = None if median_gap is None else Decimal(median_gap)
    return judge.Row(external_id, tier, Decimal(revenue), Decimal(revenue), 1, gap, days_since)


def test_the_pyramid_meets_the_bar_when_a_small_tier_3_holds_three_times_its_share_of_revenue():
    from scripts import judge

    crowd = [customer(f"c{n}", tier=1 if n % 2 else 2) for n in range(97)]
    top = [customer(f"top{n}", tier=3, revenue="1000") for n in range(3)]  # 3% of customers, 24% of revenue
    assert judge.pyramid(crowd + top, costs=True)["meets_bar"]
    crowd_of_300 = crowd * 3 + [customer("x"), customer("y")]
    lonely_top = [customer("one", tier=3, revenue="1000")]  # 1 customer in 300: under 0.5%
    assert not judge.pyramid(crowd_of_300 + lonely_top, costs=True)["meets_bar"]
    top = [customer(f"top{n}", tier=3, revenue="200") for n in range(3)]  # 3% of customers, 6% of revenue
    assert not judge.pyramid(crowd + top, costs=True)["meets_bar"]


def test_the_backtest_scores_the_lapse_rule_against_who_did_not_buy_again():
    from scripts import judge

    rows = [
        customer("quiet-long", days_since=200, median_gap="30"),  # lapsed (> 90 and > 75), never came back
        customer("quiet-short", days_since=40, median_gap="30"),  # not lapsed, came back
        customer("slow-buyer", days_since=120, median_gap="100"),  # not lapsed (threshold 250), never came back
        customer("lapsed-but-back", days_since=100),  # one order: lapsed after 90 days, came back anyway
    ]
    result = judge.backtest(rows, returned={"quiet-short", "lapsed-but-back"}, gone_for_good=None, policy=(90, 2.5))
    repeat = result["repeat buyers"]
    assert (repeat["customers"], repeat["did_not_buy"], repeat["flagged"]) == (3, 2, 1)
    assert (repeat["precision"], repeat["recall"]) == (1.0, 0.5)
    everyone = result["all buyers"]
    assert (everyone["precision"], everyone["recall"]) == (0.5, 0.5)
    assert result["lapsed at split, by tier"][2] == {"buyers": 4, "lapsed": 2, "came_back": 1, "came_back_share": 0.5}


def fake_lifetimes_wheel(path: Path, licence: str = "The MIT License (MIT)\nPermission is hereby granted, …") -> Path:
    """A wheel with the two members the converter reads, in CDNOW_master.txt's own layout."""
    import zipfile

    log = (
        " customer_id  date number_of_cds  dollar_value\r\n"
        " 00001 19970101  1   11.77\r\n"
        " 00002 19970112  1   12.00\r\n"
        " 00002 19970112  5   77.00\r\n"
        " 00002 19980630  1    0.00\r\n"  # CDNOW has 80 lines of amount 0
    )
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(shapes.CDNOW_MEMBER, log)
        wheel.writestr(shapes.CDNOW_LICENSE, licence)
    return path


@pytest.mark.django_db
def test_cdnow_becomes_one_order_per_customer_and_day_and_imports(tmp_path):
    shapes.write_cdnow(out=tmp_path, wheel=fake_lifetimes_wheel(tmp_path / "fake.whl"))
    assert [(r["order_id"], r["quantity"], r["amount"]) for r in rows(tmp_path, "orders")] == [
        ("00001-19970101", "1", "11.77"),
        ("00002-19970112", "6", "89.00"),  # two lines of the same day, one product: summed
        ("00002-19980630", "1", "0.00"),
    ]
    for kind in shapes.KINDS:
        call_command("import_data", kind, str(tmp_path / f"{kind}.csv"), stdout=StringIO())
    assert Customer.objects.count() == 2
    assert OrderLine.objects.filter(cost__isnull=True).count() == 3


def test_cdnow_refuses_a_wheel_whose_licence_is_not_the_one_checked(tmp_path):
    wheel = fake_lifetimes_wheel(tmp_path / "fake.whl", licence="All rights reserved.")
    with pytest.raises(shapes.CdnowUnavailable, match="not the MIT licence"):
        shapes.write_cdnow(out=tmp_path, wheel=wheel)
