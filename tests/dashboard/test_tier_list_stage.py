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
