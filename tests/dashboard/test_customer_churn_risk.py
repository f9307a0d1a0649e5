"""The customer page's churn-risk card: the risk, the stage and what drives it."""

import datetime as dt

import pytest
from django.urls import reverse

from churn.models import CustomerRisk

pytestmark = pytest.mark.django_db


def test_it_shows_the_risk_its_horizon_the_stage_and_the_drivers(as_manager, make_metrics):
    metrics = make_metrics(tier=2)
    CustomerRisk.objects.create(
        customer=metrics.customer,
        risk=0.734,
        horizon_days=90,
        stage="at_risk",
        as_of=dt.date(2026, 11, 30),
        drivers=[["log_silence_per_gap", 1.25], ["log_frequency", -0.4]],
    )

    body = as_manager.get(reverse("dashboard:customer", args=[metrics.customer_id])).content.decode()

    assert "<strong>73%</strong> chance of no purchase in the next 90 days" in body
    assert "stage <strong>at risk</strong>" in body
    assert "silence ÷ usual gap: raises the risk (1.25 on the log-odds)" in body
    assert "order days: lowers the risk (-0.40 on the log-odds)" in body


def test_a_customer_not_scored_yet_says_so(as_manager, make_metrics):
    metrics = make_metrics(tier=2)
    body = as_manager.get(reverse("dashboard:customer", args=[metrics.customer_id])).content.decode()
    assert "Not scored yet" in body
