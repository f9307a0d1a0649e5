"""Churn's follow-up work runs after the nightly re-tier commits: every customer scored as of the run's
date, and the suspects stored for every tier choice the pages offer."""

import pytest

from churn.models import CustomerRisk, RiskModel, SuspectAnalysis
from churn.suspects import PAGE_TIERS, tiers_key
from churn.views import TIER_CHOICES
from tiering.services import retier_all

from . import synthetic

pytestmark = pytest.mark.django_db


def test_a_real_run_scores_every_customer_once_it_has_committed(django_capture_on_commit_callbacks):
    _, events = synthetic.poisson_buyers(customers=300, days=400, future_days=0, seed=5)
    synthetic.load(events, customers=300)
    as_of = synthetic.day(399)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        retier_all(as_of=as_of)
    assert not CustomerRisk.objects.exists()  # nothing inside the re-tier's transaction

    for callback in queued:
        callback()

    assert CustomerRisk.objects.filter(as_of=as_of).count() == 300
    assert RiskModel.objects.get().as_of == as_of
    stored = set(SuspectAnalysis.objects.filter(as_of=as_of).values_list("tiers", flat=True))
    assert stored == {tiers_key(tiers) for tiers in PAGE_TIERS}  # no page analyses in its request


def test_the_nightly_suspects_cover_every_tier_choice_of_the_insights_page():
    assert {tiers_key(tiers) for tiers in PAGE_TIERS} == {tiers_key(raw.split(",")) for raw, _ in TIER_CHOICES}


def test_with_follow_up_tasks_off_a_run_queues_nothing(settings, django_capture_on_commit_callbacks):
    settings.RETIER_FOLLOW_UP_TASKS = False
    synthetic.load([(0, 0), (0, 30)], customers=1)
    with django_capture_on_commit_callbacks(execute=True):
        retier_all(as_of=synthetic.day(40))
    assert not CustomerRisk.objects.exists() and not SuspectAnalysis.objects.exists()


def test_a_dry_run_queues_no_scoring(django_capture_on_commit_callbacks):
    synthetic.load([(0, 0), (0, 30)], customers=1)
    with django_capture_on_commit_callbacks(execute=True):
        retier_all(as_of=synthetic.day(40), dry_run=True)
    assert not CustomerRisk.objects.exists()
