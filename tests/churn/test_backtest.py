import datetime as dt
import io

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from churn.models import Backtest

from . import synthetic

pytestmark = pytest.mark.django_db


def backtest(*args) -> str:
    out = io.StringIO()
    call_command("churn_backtest", *args, stdout=out)
    return out.getvalue()


def test_it_puts_the_risk_the_lapse_rule_and_days_since_last_order_side_by_side_with_the_sizes():
    rates, events = synthetic.poisson_buyers(customers=500, days=500, future_days=0, seed=3)
    synthetic.load(events, customers=500)

    output = backtest("--horizon-days", "90")

    judged_on = synthetic.day(499) - dt.timedelta(days=90)
    assert f"judged as of {judged_on}; the truth is who did not buy in the 90 days to {synthetic.day(499)}" in output
    for group in ("all customers: ", "repeat buyers: "):
        assert group in output
    for score in ("churn risk (flag at ≥ 0.5)", "lapse rule", "days since last order (flag at > 90)"):
        assert output.count(score) == 2
    judged = {i for i, d in events if d <= 409}
    came_back = {i for i, d in events if 409 < d <= 499}
    assert f"all customers: {len(judged)} judged, {len(judged - came_back)} did not buy" in output
    assert Backtest.objects.get().result["groups"][0]["customers"] == len(judged)
    assert "suggested risk threshold" in output  # per tier held (no tier history here: tier 1)


def test_a_history_too_short_to_judge_says_so():
    synthetic.load([(0, 0), (0, 20), (1, 35)], customers=2)

    output = backtest("--as-of", synthetic.day(60).isoformat(), "--horizon-days", "30")

    assert "The history is too short to judge a 30-day risk as of" in output
    assert "ROC AUC" not in output


def test_admins_see_the_latest_backtest_and_others_are_refused(client, make_user):
    synthetic.load([(0, 0), (0, 20), (1, 35)], customers=2)
    backtest("--horizon-days", "30")
    client.force_login(make_user(role="Marketing"))
    assert client.get(reverse("churn:backtest")).status_code == 403

    client.force_login(make_user(role="Admin"))
    page = client.get(reverse("churn:backtest")).content.decode()

    assert "The history is too short to judge a 30-day risk" in page


def test_each_tier_shows_the_lapse_rules_flags_beside_the_risk_thresholds_on_the_same_customers():
    _, events = synthetic.poisson_buyers(customers=400, days=500, future_days=0, seed=6)
    synthetic.load(events, customers=400)

    output = backtest("--horizon-days", "90")

    # By hand, as of J = day 409: lapsed when silent for more than max(90, 2.5 × median gap).
    days: dict[int, list[int]] = {}
    for who, d in sorted(set(events)):
        if d <= 409:
            days.setdefault(who, []).append(d)
    came_back = {who for who, d in events if 409 < d <= 499}
    lapsed = {
        who
        for who, seen in days.items()
        if 409 - seen[-1] > (max(90, 2.5 * float(np.median(np.diff(seen)))) if len(seen) > 1 else 90)
    }
    right = len(lapsed - came_back)
    (tier,) = Backtest.objects.get().result["tiers"]  # no tier history here: everyone in tier 1
    assert tier["lapse_rule"]["flagged"] == len(lapsed)
    assert tier["lapse_rule"]["precision"] == pytest.approx(right / len(lapsed))
    assert tier["lapse_rule"]["recall"] == pytest.approx(right / len(set(days) - came_back))
    assert f"    lapse {len(lapsed):>8} " in output


def test_the_page_shows_the_lapse_rule_under_each_tiers_thresholds(client, make_user):
    _, events = synthetic.poisson_buyers(customers=200, days=400, future_days=0, seed=6)
    synthetic.load(events, customers=200)
    backtest("--horizon-days", "90")
    (tier,) = Backtest.objects.get().result["tiers"]
    client.force_login(make_user(role="Admin"))

    page = client.get(reverse("churn:backtest")).content.decode()

    assert f'<tr class="lapse-rule"><td>the lapse rule</td><td class="num">{tier["lapse_rule"]["flagged"]}</td>' in page


def test_thresholds_chosen_elsewhere_are_judged_on_the_same_customers():
    _, events = synthetic.poisson_buyers(customers=300, days=500, future_days=0, seed=7)
    synthetic.load(events, customers=300)

    output = backtest("--horizon-days", "90", "--thresholds", "1=0.6,3=0.4")

    (tier,) = Backtest.objects.get().result["tiers"]  # tier 1 only: the tier 3 threshold has nobody to judge
    at_060 = next(line for line in output.splitlines() if line.startswith("     0.60 "))
    assert f"{at_060}  (given (--thresholds))" in output
    assert tier["given"]["threshold"] == 0.6


def test_a_threshold_outside_0_and_1_is_refused_before_anything_runs():
    with pytest.raises(CommandError, match="between 0 and 1"):
        backtest("--thresholds", "2=1.5")
