"""Follow-ups opened by the churn risk crossing a tier's threshold, or by the lapse rule as before, and
the value at risk every open item carries (churn.services.refresh_follow_ups)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from churn import policy
from churn.models import ChurnPolicy, CustomerRisk, FollowUp, FollowUpPolicy, Lapse
from churn.services import detect_churn, refresh_follow_ups
from tests.churn.factories import FollowUpFactory, RetierRunFactory
from tests.factories import CustomerMetricsFactory

UTC = dt.UTC
AS_OF = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 3, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def customer(*, tier: int, risk: float, days: int = 40, margin: str = "1000.00", revenue: str = "2500.00"):
    """A customer holding `tier` tonight, `days` after their last order, scored at `risk`."""
    metrics = CustomerMetricsFactory(
        changed_as_of=AS_OF,
        tier=tier,
        days_since_last_order=days,
        last_order_at=dt.datetime.combine(AS_OF - dt.timedelta(days=days), dt.time(12), tzinfo=UTC),
        median_gap_days=Decimal("20"),
        net_margin=Decimal(margin),
        revenue=Decimal(revenue),
    )
    CustomerRisk.objects.create(customer_id=metrics.customer_id, risk=risk, as_of=AS_OF)
    return metrics


def on_risk(**thresholds: float) -> None:
    """Follow-ups open on churn risk, at these thresholds per tier (tier3=0.6, tier2=0.7)."""
    FollowUpPolicy.in_force()
    for key, threshold in thresholds.items():
        FollowUpPolicy.objects.filter(tier=int(key.removeprefix("tier"))).update(risk_threshold=threshold)
    ChurnPolicy.objects.filter(pk=ChurnPolicy.current().pk).update(follow_up_trigger=policy.TRIGGER_RISK)


def test_a_risk_crossing_the_tier_threshold_opens_exactly_one_item():
    on_risk(tier3=0.6, tier2=0.7)
    whale = customer(tier=3, risk=0.65)
    result = refresh_follow_ups(as_of=AS_OF, now=NOW)
    item = FollowUp.objects.get()
    assert (item.customer_id, item.kind, item.tier, item.status) == (whale.customer_id, "investigate", 3, "open")
    assert result.follow_ups == {3: 1, 2: 0}
    assert item.lapse.trigger == "risk" and item.lapse.last_order_at == whale.last_order_at

    # the next nights, still above the threshold: the same silence, no second item
    refresh_follow_ups(as_of=AS_OF + dt.timedelta(days=1))
    refresh_follow_ups(as_of=AS_OF + dt.timedelta(days=2))
    assert FollowUp.objects.count() == 1 and Lapse.objects.count() == 1


def test_below_the_tier_threshold_no_item_opens():
    on_risk(tier3=0.6, tier2=0.7)
    customer(tier=2, risk=0.65)  # above tier 3's threshold but below tier 2's
    customer(tier=1, risk=0.99)  # tier 1: no action
    refresh_follow_ups(as_of=AS_OF, now=NOW)
    assert not FollowUp.objects.exists() and not Lapse.objects.exists()


def test_a_closed_item_is_not_reopened_for_the_same_silence():
    on_risk(tier3=0.6, tier2=0.7)
    customer(tier=3, risk=0.9)
    refresh_follow_ups(as_of=AS_OF, now=NOW)
    FollowUp.objects.update(status="dismissed", dismiss_reason="expected_pause")
    refresh_follow_ups(as_of=AS_OF + dt.timedelta(days=1))
    assert FollowUp.objects.count() == 1


def test_a_risk_item_resolves_itself_as_returned_when_the_customer_buys_again():
    on_risk(tier3=0.6, tier2=0.7)
    metrics = customer(tier=3, risk=0.9)
    refresh_follow_ups(as_of=AS_OF, now=NOW)
    metrics.last_order_at = NOW + dt.timedelta(days=1)
    metrics.save()
    detect_churn(run_id=RetierRunFactory(as_of=AS_OF).pk, as_of=AS_OF + dt.timedelta(days=2))
    item = FollowUp.objects.get()
    assert item.status == "returned" and item.lapse.returned_at is not None


def test_on_risk_a_lapse_records_no_item_until_the_risk_reaches_the_threshold():
    on_risk(tier3=0.6, tier2=0.7)
    metrics = customer(tier=2, risk=0.5, days=120)  # lapsed by the rule, but the model expects them back
    detect_churn(run_id=RetierRunFactory(as_of=AS_OF).pk, as_of=AS_OF, now=NOW)
    assert Lapse.objects.filter(trigger="lapse").count() == 1 and not FollowUp.objects.exists()
    refresh_follow_ups(as_of=AS_OF, now=NOW)
    assert not FollowUp.objects.exists()

    CustomerRisk.objects.filter(customer_id=metrics.customer_id).update(risk=0.8)
    refresh_follow_ups(as_of=AS_OF + dt.timedelta(days=1))
    item = FollowUp.objects.get()
    assert (item.kind, item.lapse.trigger, Lapse.objects.count()) == ("win_back", "lapse", 1)


def test_on_the_lapse_rule_the_risk_opens_nothing_and_a_lapse_opens_its_item_as_before():
    FollowUpPolicy.in_force()
    FollowUpPolicy.objects.update(risk_threshold=0.1)  # ignored: the trigger is the lapse rule
    customer(tier=3, risk=0.95, days=40)  # at risk, not lapsed
    lapsed = customer(tier=2, risk=0.4, days=120)
    refresh_follow_ups(as_of=AS_OF, now=NOW)
    assert not FollowUp.objects.exists()
    detect_churn(run_id=RetierRunFactory(as_of=AS_OF).pk, as_of=AS_OF, now=NOW)
    item = FollowUp.objects.get()
    assert (item.customer_id, item.kind, item.lapse.trigger) == (lapsed.customer_id, "win_back", "lapse")
    assert (item.risk, item.value_at_risk) == (0.4, Decimal("400.00"))  # valued from the last scoring


def test_every_open_item_is_revalued_as_risk_times_margin_never_below_zero():
    rich = customer(tier=3, risk=0.5, margin="2000.00")
    losing = customer(tier=2, risk=0.9, margin="-300.00")
    unscored = CustomerMetricsFactory(net_margin=Decimal("500"))
    for metrics in (rich, losing, unscored):
        FollowUpFactory(lapse__customer=metrics.customer)
    closed = FollowUpFactory(lapse__customer=customer(tier=3, risk=0.7).customer, status="lost")
    refresh_follow_ups(as_of=AS_OF, now=NOW)
    values = dict(FollowUp.objects.values_list("customer_id", "value_at_risk"))
    assert values[rich.customer_id] == Decimal("1000.00")
    assert values[losing.customer_id] == Decimal("0.00")
    assert values[unscored.customer_id] is None and values[closed.customer_id] is None


def test_switching_to_risk_needs_a_threshold_on_every_acting_tier():
    churn_policy = ChurnPolicy.current()
    churn_policy.follow_up_trigger = policy.TRIGGER_RISK
    with pytest.raises(ValidationError, match="tier 3, 2"):
        churn_policy.full_clean()
    FollowUpPolicy.objects.filter(tier__in=(2, 3)).update(risk_threshold=0.6)
    churn_policy.full_clean()


def test_a_threshold_outside_0_and_1_is_refused():
    tier3 = FollowUpPolicy.in_force()[0]
    tier3.risk_threshold = 1.5
    with pytest.raises(ValidationError, match="risk_threshold"):
        tier3.full_clean()


def test_the_backtest_suggests_per_tier_the_threshold_that_keeps_the_lapse_rules_workload():
    import numpy as np

    from churn.backtest import tier_thresholds

    truth = np.array([True, True, True, False, False, False])
    risk = np.array([0.9, 0.8, 0.45, 0.5, 0.3, 0.1])
    lapsed = np.array([True, False, True, True, False, False])  # 3 items today
    found = tier_thresholds(3, truth, risk, lapsed=lapsed)
    assert (found.customers, found.positives) == (6, 3)
    # 3 items at most: the three riskiest (0.9, 0.8, 0.5) from 0.46 up; at 0.45, 4 items
    assert found.suggested == 0.46
    assert (found.at_suggested.flagged, round(found.at_suggested.precision, 3)) == (3, 0.667)
    assert (found.lapse_rule.flagged, round(found.lapse_rule.precision, 3)) == (3, 0.667)
    # at 0.55 to 0.80: 2 flagged, both right (F1 0.8); at 0.45: 4 flagged, 3 right (F1 0.857)
    assert found.best_f1 == 0.45
    at = {c.threshold: c for c in found.cuts}
    assert (at[0.6].flagged, at[0.6].precision, round(at[0.6].recall, 3)) == (2, 1.0, 0.667)


def test_a_tier_the_lapse_rule_flags_nobody_in_gets_no_suggestion():
    import numpy as np

    from churn.backtest import tier_thresholds

    found = tier_thresholds(2, np.array([True, False]), np.array([0.9, 0.2]), lapsed=np.array([False, False]))
    assert found.suggested is None and found.best_f1 == 0.9


def test_an_admin_switches_follow_ups_to_churn_risk_with_a_threshold_per_tier(client, make_user):
    client.force_login(make_user(role="Admin"))
    response = client.post(
        reverse("churn:follow_up_trigger"), {"trigger": "risk", "threshold_3": "0.55", "threshold_2": "0.7"}
    )
    assert response.status_code == 302
    assert ChurnPolicy.current().follow_up_trigger == "risk"
    assert dict(FollowUpPolicy.objects.values_list("tier", "risk_threshold")) == {3: 0.55, 2: 0.7, 1: None}
    page = client.get(reverse("churn:backtest")).content.decode()
    assert "follow-ups open on churn risk: tier 3 at 0.55, tier 2 at 0.7." in page


def test_a_missing_or_out_of_range_threshold_saves_nothing_and_names_the_tier(client, make_user):
    client.force_login(make_user(role="Admin"))
    response = client.post(
        reverse("churn:follow_up_trigger"), {"trigger": "risk", "threshold_3": "1.5", "threshold_2": ""}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was saved" in page and "need a threshold for tier 2" in page
    assert "less than or equal to 0.99" in page
    assert ChurnPolicy.current().follow_up_trigger == "lapse"
    assert not FollowUpPolicy.objects.filter(risk_threshold__isnull=False).exists()


def test_account_managers_cannot_change_what_opens_follow_ups(client, make_user):
    client.force_login(make_user(role="Account manager"))
    response = client.post(reverse("churn:follow_up_trigger"), {"trigger": "risk", "threshold_3": "0.5"})
    assert response.status_code == 403
    assert ChurnPolicy.current().follow_up_trigger == "lapse"


def test_thresholds_are_offered_only_from_a_backtest_of_the_policys_horizon(client, make_user):
    from churn.risk_models import Backtest

    client.force_login(make_user(role="Admin"))
    horizon = ChurnPolicy.current().horizon_days
    tiers = [{"tier": 3, "suggested": 0.41, "customers": 10, "positives": 5}]
    Backtest.objects.create(as_of=dt.date(2026, 11, 1), horizon_days=horizon + 183, result={"tiers": tiers})
    page = client.get(reverse("churn:backtest")).content.decode()
    assert 'value="0.41"' not in page and "the backtest suggests 0.41" not in page
    assert f"the latest backtest judged {horizon + 183} days, the policy's horizon is {horizon}" in page

    Backtest.objects.create(as_of=dt.date(2026, 11, 2), horizon_days=horizon, result={"tiers": tiers})
    page = client.get(reverse("churn:backtest")).content.decode()
    assert 'value="0.41"' in page and "the backtest suggests 0.41" in page
