"""The churn risk runs after the nightly re-tier commits: every customer scored as of the run's date."""

import pytest

from churn.models import CustomerRisk, RiskModel
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


def test_a_dry_run_queues_no_scoring(django_capture_on_commit_callbacks):
    synthetic.load([(0, 0), (0, 30)], customers=1)
    with django_capture_on_commit_callbacks(execute=True):
        retier_all(as_of=synthetic.day(40), dry_run=True)
    assert not CustomerRisk.objects.exists()
