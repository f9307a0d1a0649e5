"""Trends per month (dashboard.trends) on a small history whose numbers are computed by hand."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from churn.models import Lapse
from churn.services import detect_churn
from dashboard.trends import monthly_trends
from tests.churn.factories import LapseFactory, RetierRunFactory, TierChangeFactory
from tests.factories import CustomerFactory, CustomerMetricsFactory
from tests.tiering.retier_helpers import at, buy, publish_rules
from tiering.models import RetierRun, RunTierTotal
from tiering.services import retier_all

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 12, 2)
SEP, OCT, NOV, DEC = (dt.date(2026, m, 1) for m in (9, 10, 11, 12))


def run_on(as_of: dt.date, totals: dict[int, tuple[int, str]] | None = None) -> RetierRun:
    """A run, with its tier totals {tier: (customers, net margin)} when given."""
    run = RetierRunFactory(as_of=as_of)
    for tier, (customers, margin) in (totals or {}).items():
        RunTierTotal.objects.create(run=run, tier=tier, customers=customers, revenue=0, net_margin=Decimal(margin))
    return run


@pytest.fixture
def history():
    """A, B, C placed in September (C by a backfilled month-end entry: any history row counts) by a
    run from before run totals were recorded; B up to 3 and D new in October; A down to 1 in
    November; no run yet in December. Today: A 1, B 3, C 1, D 2.

    Month ends by hand:   tier 1   tier 2   tier 3
        September           1        2        0      (A 2, B 2, C 1: from the history)
        October             1        2        1      (A 2, D 2, B 3, C 1: October's run totals)
        November            2        1        1      (A 1, C 1, D 2, B 3: the 20th's run totals)
        December (today)    2        1        1      (no run since: November's)
    """
    a, b, c, d = (CustomerFactory(name=n) for n in "ABCD")
    sep = run_on(dt.date(2026, 9, 15))
    octo = run_on(dt.date(2026, 10, 10), {1: (1, "-50"), 2: (2, "300"), 3: (1, "700")})
    nov = run_on(dt.date(2026, 11, 5), {1: (2, "100"), 2: (1, "100"), 3: (1, "800")})
    run_on(dt.date(2026, 11, 20), {1: (2, "0"), 2: (1, "250"), 3: (1, "750")})  # November's last run counts
    moves = [
        (a, sep, None, 2, "2026-09-15"),
        (b, sep, None, 2, "2026-09-15"),
        (c, sep, None, 1, "2026-09-30"),
        (b, octo, 2, 3, "2026-10-10"),
        (d, octo, None, 2, "2026-10-10"),
        (a, nov, 2, 1, "2026-11-05"),
    ]
    for customer, run, source, target, day in moves:
        TierChangeFactory(customer=customer, run=run, from_tier=source, to_tier=target, changed_at=at(day, "02:00:00"))
    for customer, tier in ((a, 1), (b, 3), (c, 1), (d, 2)):
        CustomerMetricsFactory(customer=customer, tier=tier)
    for day in ("2026-10-03", "2026-10-20", "2026-11-01"):
        LapseFactory(detected_at=at(day, "02:00:00"), detected_on=dt.date.fromisoformat(day))
    LapseFactory(  # lapsed in August: outside sizes
        detected_at=at("2026-08-01"),
        detected_on=dt.date(2026, 8, 1),
        returned_at=at("2026-11-15"),
        returned_on=dt.date(2026, 11, 15),
    )
    return a, b, c, d


def test_tier_sizes_margin_shares_lapses_and_win_backs_per_month_are_the_hand_computed_ones(history):
    trends = monthly_trends(run=None, today=TODAY)

    # August had only a lapse: it shows, and everything before it (no history at all) does not.
    assert [t.month for t in trends] == [dt.date(2026, 8, 1), SEP, OCT, NOV, DEC]
    by_month = {t.month: t for t in trends}
    assert by_month[SEP].sizes == {1: 1, 2: 2, 3: 0}
    assert by_month[OCT].sizes == {1: 1, 2: 2, 3: 1}
    assert by_month[NOV].sizes == {1: 2, 2: 1, 3: 1}
    assert by_month[DEC].sizes == {1: 2, 2: 1, 3: 1}
    assert by_month[SEP].margin_share is None  # September's run recorded no totals
    assert by_month[OCT].margin_share == pytest.approx({1: 0.0, 2: 0.3, 3: 0.7})  # tier 1 lost money: 0
    assert by_month[NOV].margin_share == pytest.approx({1: 0.0, 2: 0.25, 3: 0.75})  # the 20th, not the 5th
    assert by_month[DEC].margin_share == by_month[NOV].margin_share
    assert [(t.lapses, t.win_backs) for t in trends] == [(1, 0), (0, 0), (2, 0), (1, 1), (0, 0)]


def test_a_replay_of_past_months_counts_each_lapse_and_win_back_in_the_month_its_run_was_dated():
    """Three runs as of September, October and November, all executed now (a replay, or nights
    caught up in December): each lapse shows in its run's month, not all in December."""
    replayed_at = at("2026-12-02", "09:30:00")  # the wall clock of every detection below
    last_orders = {"Sep": "2026-06-01", "Oct": "2026-07-15", "Nov": "2026-08-15"}  # 90+ days before each run
    metrics = {
        key: CustomerMetricsFactory(tier=2, last_order_at=at(day, "12:00:00"), days_since_last_order=None)
        for key, day in last_orders.items()
    }
    for as_of in (dt.date(2026, 9, 30), dt.date(2026, 10, 31)):
        detect_churn(run_id=RetierRunFactory(as_of=as_of).pk, as_of=as_of, now=replayed_at)
    metrics["Sep"].last_order_at = at("2026-11-10", "12:00:00")  # September's lapse orders again
    metrics["Sep"].save()
    nov = dt.date(2026, 11, 30)
    detect_churn(run_id=RetierRunFactory(as_of=nov).pk, as_of=nov, now=replayed_at)

    assert set(Lapse.objects.values_list("detected_at", flat=True)) == {replayed_at}
    by_month = {t.month: (t.lapses, t.win_backs) for t in monthly_trends(run=None, today=TODAY)}
    assert (by_month[SEP], by_month[OCT], by_month[NOV], by_month[DEC]) == ((1, 0), (1, 0), (1, 1), (0, 0))


def test_the_overview_shows_the_trend_numbers_in_a_table(client, make_user, history):
    client.force_login(make_user(role="Account manager"))
    html = client.get(reverse("home")).content.decode()
    table = html.split('id="trends-table"')[1].split("</table>")[0]
    october = table.split('datetime="2026-10"')[1].split("</tr>")[0]
    # tiers 3, 2, 1 customers; margin shares 3, 2, 1; lapses; win-backs
    cells = [cell.split(">")[-1] for cell in october.split("</td>")[:-1]]
    assert cells == ["1", "2", "1", "70.0 %", "30.0 %", "0.0 %", "2", "0"]
    assert 'id="trend-data"' in html


def test_a_real_run_records_each_tiers_totals_in_its_transaction():
    big, small = CustomerFactory(), CustomerFactory()
    buy(big, at("2026-03-01"), amount="900.00", cost="300.00")
    buy(small, at("2026-03-01"), amount="100.00", cost="60.00")
    publish_rules()

    run = retier_all(as_of=dt.date(2026, 11, 22), triggered_by="test")
    dry = retier_all(as_of=dt.date(2026, 11, 22), dry_run=True, triggered_by="test")

    totals = {t.tier: (t.customers, t.revenue, t.net_margin) for t in RunTierTotal.objects.filter(run=run)}
    assert sum(n for n, _, _ in totals.values()) == 2
    assert sum(r for _, r, _ in totals.values()) == Decimal("1000.00")
    assert sum(m for _, _, m in totals.values()) == Decimal("640.00")
    assert not RunTierTotal.objects.filter(run=dry).exists()  # a dry run writes nothing
