"""Suspects: launches and releases after which valuable customers stopped buying more often than
those not exposed, found from planted data (docs/churn.md, "Suspects")."""

import csv
import datetime as dt
import io

import pytest
from django.core.management import call_command

from churn import evidence
from churn.models import Release
from churn.suspects import analyse
from tests.churn.factories import LapseFactory, plant_customers
from tests.factories import ProductFactory

AS_OF = dt.date(2026, 11, 1)
STOPPED = dt.date(2026, 3, 1)  # their last order; lapsed by AS_OF under the default policy
REQUIRED = ["subject", "kind", "exposed", "lapsed_exposed", "unexposed", "lapsed_unexposed", "lift", "low", "high"]


@pytest.fixture
def planted(db):
    """305 tier-3 customers. 60 bought Sync Two in its first weeks and 36 of them stopped; 60 bought
    Clear Lens, launched the week after, and 6 stopped; of the 180 who bought neither, 18 stopped.
    Five bought the old widget whose price went up, and all five stopped. 100 tier-1 customers
    bought Sync Two and stayed: they are not valuable, so they do not count."""
    sync = ProductFactory(sku="SYNC-2", name="Sync Two", launched_on=dt.date(2026, 1, 12))
    lens = ProductFactory(sku="LENS-1", name="Clear Lens", launched_on=dt.date(2026, 1, 19))
    widget = ProductFactory(sku="WID-1", name="Old widget", launched_on=dt.date(2019, 1, 1))
    plant_customers(36, bought=[sync], bought_on=dt.date(2026, 2, 1), last_order=STOPPED)
    plant_customers(24, bought=[sync], bought_on=dt.date(2026, 2, 1))
    plant_customers(6, bought=[lens], bought_on=dt.date(2026, 2, 2), last_order=STOPPED)
    plant_customers(54, bought=[lens], bought_on=dt.date(2026, 2, 2))
    plant_customers(18, last_order=STOPPED)
    plant_customers(162)
    widget_buyers = plant_customers(5, bought=[widget], bought_on=dt.date(2025, 6, 1), last_order=STOPPED)
    plant_customers(100, tier=1, bought=[sync], bought_on=dt.date(2026, 2, 1))
    price = Release.objects.create(
        title="Widget price up",
        kind=Release.Kind.PRICE,
        released_on=dt.date(2026, 2, 1),
        audience=Release.Audience.PRODUCT_BUYERS,
        product=widget,
    )
    return {"sync": sync, "lens": lens, "price": price, "widget_buyers": widget_buyers}


def by_key(rows):
    return {r["key"]: r for r in rows}


def test_a_launch_whose_buyers_leave_at_several_times_the_usual_rate_comes_out_first_and_flagged(planted):
    first = analyse(as_of=AS_OF, tiers=(3,)).rows[0]
    assert first["subject"] == "SYNC-2 Sync Two" and first["kind"] == "launch"
    assert (first["exposed"], first["lapsed_exposed"], first["unexposed"], first["lapsed_unexposed"]) == (
        60,
        36,
        245,
        29,
    )
    assert first["flagged"] and first["lift"] > 4 and first["low"] > 2


def test_an_innocent_launch_of_the_same_weeks_bought_by_as_many_is_not_flagged(planted):
    lens = by_key(analyse(as_of=AS_OF, tiers=(3,)).rows)[f"launch:{planted['lens'].pk}"]
    assert (lens["exposed"], lens["lapsed_exposed"]) == (60, 6)
    assert not lens["flagged"] and lens["lift"] < 1


def test_a_release_touching_five_customers_is_never_flagged_even_when_all_five_left(planted):
    price = by_key(analyse(as_of=AS_OF, tiers=(3,)).rows)[f"release:{planted['price'].pk}"]
    assert (price["exposed"], price["lapsed_exposed"]) == (5, 5)
    assert price["q"] <= evidence.FDR  # chance alone would not explain it, yet five customers never flag
    assert not price["flagged"] and price["note"] == "too few exposed (under 30)"


def test_the_tier_held_while_still_buying_counts_not_the_tier_the_silence_left(planted):
    (dropped,) = plant_customers(1, tier=1, bought=[planted["sync"]], bought_on=dt.date(2026, 2, 1), last_order=STOPPED)
    LapseFactory(customer=dropped, tier_while_active=3, last_order_at=dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC))
    sync = by_key(analyse(as_of=AS_OF, tiers=(3,)).rows)[f"launch:{planted['sync'].pk}"]
    assert (sync["exposed"], sync["lapsed_exposed"]) == (61, 37)


def test_tiers_two_and_three_together_count_both(planted):
    plant_customers(40, tier=2, bought=[planted["lens"]], bought_on=dt.date(2026, 2, 2))
    lens = by_key(analyse(as_of=AS_OF, tiers=(2, 3)).rows)[f"launch:{planted['lens'].pk}"]
    assert lens["exposed"] == 100


def test_a_release_for_everyone_is_compared_with_the_window_before_it(planted):
    # Everyone who stopped did so on 1 March: in the window before a 1 April release, not after it.
    everyone = Release.objects.create(
        title="New portal", kind=Release.Kind.METHOD_CHANGE, released_on=dt.date(2026, 4, 1)
    )
    row = by_key(analyse(as_of=AS_OF, tiers=(3,)).rows)[f"release:{everyone.pk}"]
    assert row["compared_with"] == "the window before"
    assert (row["exposed"], row["lapsed_exposed"], row["unexposed"], row["lapsed_unexposed"]) == (240, 0, 305, 65)
    assert not row["flagged"]


def test_a_business_with_no_launches_or_releases_has_nothing_to_rank(db):
    ProductFactory(launched_on=None)
    plant_customers(10)
    assert analyse(as_of=AS_OF, tiers=(3,)).rows == []


def test_the_command_prints_the_csv_columns_strongest_first(planted):
    out = io.StringIO()
    call_command("churn_suspects", "--as-of", "2026-11-01", "--tiers", "3", stdout=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    header = rows[0]
    assert [c for c in header if c in REQUIRED + ["flagged"]] == REQUIRED + ["flagged"]
    body = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    assert [r["subject"] for r in body] == ["SYNC-2 Sync Two", "Widget price up", "LENS-1 Clear Lens"]
    assert [r["flagged"] for r in body] == ["true", "false", "false"]
    assert body[0]["exposed"] == "60" and body[0]["lift"] == "5.069" and body[0]["low"] == "3.400"


def test_the_command_as_a_table_says_when_there_is_nothing_to_analyse(db):
    out = io.StringIO()
    call_command("churn_suspects", "--as-of", "2026-11-01", "--format", "table", stdout=out)
    assert "No launch or release to analyse as of 2026-11-01" in out.getvalue()


# --- the statistics on plain counts ---------------------------------------------------------------


def test_the_lift_and_its_katz_interval_match_the_hand_computation():
    lift, low, high = evidence.risk_ratio(evidence.Table(60, 36, 245, 29))
    assert lift == pytest.approx(5.069, abs=1e-3)
    assert (low, high) == (pytest.approx(3.400, abs=1e-3), pytest.approx(7.557, abs=1e-3))


def test_a_zero_cell_still_gives_a_finite_interval():
    lift, low, high = evidence.risk_ratio(evidence.Table(40, 0, 400, 40))
    assert lift == pytest.approx((0.5 / 41) / (40.5 / 401)) and 0 < low < lift < 1 < high


def test_with_nobody_stopping_there_is_no_lift_to_speak_of():
    table = evidence.Table(60, 0, 2200, 0)
    (verdict,) = evidence.verdicts([table])
    assert evidence.risk_ratio(table) == (None, None, None) and not verdict.flagged
    assert evidence.explain(table, verdict) == "nobody stopped"


def test_false_discoveries_are_controlled_across_subjects():
    # One p-value of 0.01 is flagged alone, but not among 20 subjects where the rest show nothing.
    weak = evidence.Table(40, 12, 400, 60)
    assert evidence.verdicts([weak])[0].flagged
    verdicts = evidence.verdicts([weak] + [evidence.Table(40, 6, 400, 60)] * 19)
    assert verdicts[0].p < 0.05 and not verdicts[0].flagged


def test_a_release_for_a_products_or_categorys_buyers_must_name_it(db):
    from django.core.exceptions import ValidationError

    release = Release(title="Repricing", kind=Release.Kind.PRICE, released_on=AS_OF, audience="product_buyers")
    with pytest.raises(ValidationError, match="Name the product"):
        release.full_clean()
    release.audience = Release.Audience.CATEGORY_BUYERS
    with pytest.raises(ValidationError, match="Name the category"):
        release.full_clean()
