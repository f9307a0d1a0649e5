"""Trends over a backfilled history: the replayed month ends' own totals (dashboard.trends, BackfillTierTotal)."""

import datetime as dt

import pytest
from django.urls import reverse

from dashboard.trends import NOTHING, _flows, _shares, _totals, history_until, month_starts, monthly_trends
from tests.tiering.retier_helpers import publish_rules
from tests.tiering.test_backfill import BEFORE, MONTH_ENDS, history  # noqa: F401 (a fixture)
from tiering.models import BackfillTierTotal, RunTierTotal
from tiering.services import backfill_tiers, retier_all

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 20)  # no run yet: every month shown is backfilled or before it


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=31)).replace(day=1)


def test_backfilled_months_show_the_sizes_the_history_adds_up_to_and_now_a_margin_share(history):
    publish_rules(lifetime_revenue="1500")
    backfill_tiers(months=8, before=BEFORE)
    trends = {t.month: t for t in monthly_trends(run=None, today=TODAY)}
    totals = list(BackfillTierTotal.objects.values_list("as_of", "tier", "customers", "revenue", "net_margin"))
    BackfillTierTotal.objects.all().delete()  # a history backfilled before the totals existed
    summed = {t.month: t for t in monthly_trends(run=None, today=TODAY)}

    # The history's net moves give the same sizes; its entries hold from the day after the month
    # end (the 1st of the next month), so summing them by month showed each a month later, and
    # the first month end (March) not at all.
    assert list(trends) == [MONTH_ENDS[0].replace(day=1), *summed]
    for day in MONTH_ENDS:
        assert trends[day.replace(day=1)].sizes == summed[next_month(day)].sizes
        assert summed[next_month(day)].margin_share is None
    assert trends[dt.date(2026, 11, 1)].sizes == trends[dt.date(2026, 10, 1)].sizes  # no move since October 31
    assert trends[dt.date(2026, 11, 1)].margin_share is None  # nor a run, nor a month end of its own

    # The margin share is a GROUP BY of the replayed metrics: the nightly re-tier's totals as of
    # the same day (the backfill = those runs, tests/tiering/test_backfill.py).
    for day in MONTH_ENDS:
        run = retier_all(as_of=day, triggered_by="test")
        by_run = {t.tier: (t.customers, t.revenue, t.net_margin) for t in RunTierTotal.objects.filter(run=run)}
        assert {tier: rest for as_of, tier, *rest in totals if as_of == day} == {
            tier: list(numbers) for tier, numbers in by_run.items()
        }
        shares = _shares({tier: margin for tier, (_, _, margin) in by_run.items()})
        assert trends[day.replace(day=1)].margin_share == pytest.approx(shares)
    assert len({tier for _, tier, *_ in totals}) > 1 and len({margin for *_, margin in totals}) > 1


def test_running_the_backfill_again_replaces_its_totals(history):
    publish_rules()
    backfill_tiers(months=8, before=BEFORE)
    first = sorted(BackfillTierTotal.objects.values_list("as_of", "tier", "customers", "revenue", "net_margin"))

    again = backfill_tiers(months=8, before=BEFORE)

    assert sorted(BackfillTierTotal.objects.values_list("as_of", "tier", "customers", "revenue", "net_margin")) == first
    assert set(BackfillTierTotal.objects.values_list("backfill", flat=True)) == {again.pk}


def test_the_overview_over_a_backfilled_history_makes_the_same_queries(
    history, client, manager, django_assert_num_queries
):
    publish_rules()
    backfill_tiers(months=8, before=BEFORE)
    retier_all(as_of=BEFORE, triggered_by="test")  # the first run, after its backfill
    client.force_login(manager)
    # 1 session, 2 user, 3 user's permissions, 4 group permissions, 5 tiers,
    # 6 the last run, 7 customers/revenue/margin per tier: one GROUP BY over CustomerMetrics,
    # 8 the follow-up queue in numbers: one aggregate over the active follow-ups,
    # 9-12 the trends (dashboard.trends): the runs' and replayed month ends' tier totals (one
    # query), history moves per month for the months neither covers (only those before March's
    # month end, where none are recorded: an index range of nothing), lapses per month, win-backs
    # per month,
    # 13 the menu's open-item count beside My queue.
    with django_assert_num_queries(13):
        assert client.get(reverse("home")).status_code == 200


def test_no_history_is_read_when_every_month_shown_has_a_run_or_a_replayed_month_end(history):
    publish_rules()
    backfill_tiers(months=24, before=BEFORE)  # 2025-09-30 to 2026-10-31: the window's first 11 months
    retier_all(as_of=BEFORE, triggered_by="test")
    starts = month_starts(TODAY, 12)
    totals = _totals(starts[0])

    run_totals, replayed = [r for r in totals if r[0] is not None], [r[1:] for r in totals if r[0] is None]
    assert history_until(starts, run_totals, replayed) == NOTHING
    assert _flows(until=NOTHING) == []
    # the same months without the replayed totals (a backfill from before them): the history says
    assert history_until(starts, run_totals, []) == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
