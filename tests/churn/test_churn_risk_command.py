"""`manage.py churn_risk`: what it prints about its own cost (docs/churn-risk.md, "Cost")."""

import io
import re

import pytest
from django.core.management import call_command

from core.measure import phase

from . import synthetic

pytestmark = pytest.mark.django_db

TRAINED = re.compile(r"^Trained in (\d+\.\d) s, peak memory (\d+) MB on (\d+) rows\.$", re.M)
SCORED = re.compile(r"^Scored in (\d+\.\d) s, peak memory (\d+) MB\.$", re.M)


def churn_risk(*args) -> str:
    out = io.StringIO()
    call_command("churn_risk", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def history():
    _, events = synthetic.poisson_buyers(customers=300, days=400, future_days=0, seed=5)
    synthetic.load(events, customers=300)
    return synthetic.day(399).isoformat()


def test_training_prints_its_seconds_and_peak_memory_apart_from_the_scorings(history):
    output = churn_risk("--as-of", history, "--train")

    trained, scored = TRAINED.search(output), SCORED.search(output)
    assert trained and scored, output
    assert output.index("Trained in") < output.index("Scored in")
    assert int(trained.group(3)) > 300  # rows at several cut-offs
    assert int(trained.group(2)) > 0 and int(scored.group(2)) > 0


def test_a_scoring_with_the_recent_model_prints_no_training(history):
    churn_risk("--as-of", history, "--train")

    output = churn_risk("--as-of", history)

    assert SCORED.search(output) and "Trained in" not in output


def test_a_phase_peak_is_its_own_not_the_larger_one_before_it():
    with phase() as big:
        block = bytearray(300 * 2**20)
        block[:: 2**12] = b"x" * len(block[:: 2**12])  # touch every page: resident
    del block
    with phase() as small:
        block = bytearray(20 * 2**20)
        block[:: 2**12] = b"x" * len(block[:: 2**12])

    assert not small.of_process  # Linux: the kernel's high-water mark is reset per phase
    assert big.peak_mb - small.peak_mb > 200
