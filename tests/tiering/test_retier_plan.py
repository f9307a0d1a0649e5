"""The re-tier's plan and hand-off: what a run fixes at its start, and what other apps receive."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from tests.churn.factories import RetierRunFactory
from tests.factories import CustomerFactory, CustomerMetricsFactory
from tests.tiering.retier_helpers import at, buy, publish_rules
from tiering import retier
from tiering.models import Condition, CustomerMetrics, RetierRun, TierChange
from tiering.services import retier_all
from tiering.signals import retier_applied

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 22)


def test_a_run_applies_the_rules_as_they_were_when_it_started(monkeypatch):
    ruleset = publish_rules(lifetime_revenue="1000")
    star = CustomerFactory()
    buy(star, at("2026-03-01"), amount="1500.00")
    real_stage = retier.run.stage_metrics

    def raise_the_bar_while_metrics_are_computed(plan, report):
        with pytest.raises(IntegrityError), transaction.atomic():  # refused: the rules in force are frozen
            Condition.objects.filter(group__ruleset=ruleset, metric="revenue").update(value=5000)
        return real_stage(plan, report)

    monkeypatch.setattr(retier.run, "stage_metrics", raise_the_bar_while_metrics_are_computed)
    run = retier_all(as_of=AS_OF)

    assert CustomerMetrics.objects.get(pk=star.pk).tier == 3
    why = TierChange.objects.get(run=run, customer=star).why
    assert why["version"] == run.ruleset.version
    assert why["groups"][0]["conditions"][0]["threshold"] == "1000"


def test_other_apps_receive_the_run_and_the_table_of_the_customers_it_rewrote():
    publish_rules()
    CustomerFactory()  # quiet
    buyer = CustomerFactory()
    retier_all(as_of=AS_OF)
    buy(buyer, at("2026-11-22"))
    received = []

    def note_what_was_handed_over(sender, *, applied, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT customer_id, last_order_at IS DISTINCT FROM old_last_order_at FROM {applied.changed_table}"
            )
            received.append((applied, cursor.fetchall()))

    retier_applied.connect(note_what_was_handed_over)
    try:
        run = retier_all(as_of=AS_OF + dt.timedelta(days=1))
    finally:
        retier_applied.disconnect(note_what_was_handed_over)

    [(applied, rows)] = received
    assert (applied.run_id, applied.as_of, applied.complete) == (run.pk, run.as_of, True)
    assert rows == [(buyer.pk, True)]  # the quiet customer's row was not rewritten


def test_a_dry_run_hands_nothing_over():
    publish_rules()
    CustomerFactory()
    received = []
    retier_applied.connect(lambda sender, **kwargs: received.append(kwargs), dispatch_uid="test-dry")
    try:
        retier_all(as_of=AS_OF, dry_run=True)
    finally:
        retier_applied.disconnect(dispatch_uid="test-dry")
    assert received == []


def test_the_run_in_force_is_the_newest_real_run_that_succeeded():
    older = RetierRunFactory(as_of=dt.date(2026, 11, 20))
    RetierRunFactory(as_of=dt.date(2026, 11, 21), dry_run=True)
    RetierRunFactory(as_of=dt.date(2026, 11, 21), status=RetierRun.Status.FAILED)
    assert RetierRun.objects.in_force().first() == older


def test_metrics_read_for_a_date_count_their_days_to_that_date():
    CustomerMetricsFactory(changed_as_of=dt.date(2026, 11, 1), tenure_days=100, days_since_last_order=10)
    metrics = CustomerMetrics.objects.with_day_counts(dt.date(2026, 11, 11)).get()
    assert (metrics.tenure_days, metrics.days_since_last_order) == (110, 20)


def test_metrics_count_their_days_to_the_run_in_force_by_default():
    CustomerMetricsFactory(changed_as_of=dt.date(2026, 11, 1), tenure_days=100, days_since_last_order=10)
    RetierRunFactory(as_of=dt.date(2026, 11, 5))
    metrics = CustomerMetrics.objects.with_day_counts().get()
    assert (metrics.days_as_of, metrics.tenure_days, metrics.days_since_last_order) == (dt.date(2026, 11, 5), 104, 14)
