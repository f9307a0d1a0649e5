"""The nightly schedule is data that admins edit (django-celery-beat), not a settings constant."""

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask

import tiering.tasks  # noqa: F401  (registers the tasks, as the worker's autodiscovery does)
from config.celery import app

pytestmark = pytest.mark.django_db


def test_the_nightly_re_tier_is_a_periodic_task_at_two_in_the_morning():
    task = PeriodicTask.objects.select_related("crontab").get(name="Nightly re-tier")

    assert (task.crontab.hour, task.crontab.minute, task.crontab.day_of_week) == ("2", "0", "*")
    assert task.enabled and task.task == "tiering.tasks.nightly_retier"
    assert task.task in app.tasks  # the name points at a registered task
    assert not getattr(settings, "CELERY_BEAT_SCHEDULE", None)  # nothing shadows the admin's schedule


def test_the_tasks_have_time_limits_for_a_long_job_and_ack_late():
    task = app.tasks["tiering.tasks.retier_task"]

    assert (task.soft_time_limit, task.time_limit, task.acks_late) == (45 * 60, 50 * 60, True)
