"""The Runs page, a run's detail, its progress, and "Run re-tier now"."""

import datetime as dt

import pytest
from django.urls import reverse

from tiering.models import RetierRun

pytestmark = pytest.mark.django_db


def finished_run(**fields):
    values = {
        "as_of": dt.date(2026, 11, 22), "status": RetierRun.Status.SUCCEEDED, "counts": {"1": 700, "2": 250, "3": 50},
        "matrix": {"1->2": 12, "2->3": 3, "3->2": 1}, "moved": 16, "triggered_by": "nightly",
    }  # fmt: skip
    values.update(fields)
    run = RetierRun.objects.create(**values)
    RetierRun.objects.filter(pk=run.pk).update(finished_at=run.started_at + dt.timedelta(seconds=8.4))
    return run


def test_the_runs_page_shows_each_run_with_counts_moved_and_duration(client, make_user):
    client.force_login(make_user("Admin"))
    finished_run()

    page = client.get(reverse("tiering:runs")).content.decode()

    assert "Succeeded" in page and "8.40 s" in page and "700" in page and "nightly" in page
    assert "Run re-tier now" in page


def test_the_runs_page_uses_the_same_queries_for_any_number_of_runs(client, make_user, django_assert_num_queries):
    client.force_login(make_user("Admin"))
    for _ in range(5):
        finished_run()

    # 1 session, 2 user, 3 user permissions, 4 group permissions (has_perm; cached for the menu
    # and the template), 5 any run still marked running?, 6 the runs joined with their rule sets,
    # 7 the menu's open-item count beside My queue (churn.context_processors).
    with django_assert_num_queries(7):
        client.get(reverse("tiering:runs"))


def test_a_failed_run_shows_its_error(client, make_user):
    client.force_login(make_user("Admin"))
    finished_run(status=RetierRun.Status.FAILED, error="RuntimeError: disk full", counts={}, moved=0)

    page = client.get(reverse("tiering:runs")).content.decode()

    assert "Failed" in page and "RuntimeError: disk full" in page


def test_a_running_run_shows_its_progress_and_polls_for_more(client, make_user):
    from tests.tiering.retier_helpers import other_connection
    from tiering.services import RETIER_LOCK_KEY

    client.force_login(make_user("Admin"))
    run = RetierRun.objects.create(
        as_of=dt.date(2026, 11, 22), progress={"step": "computing metrics", "done": 3, "total": 8}
    )
    with other_connection() as worker:  # the run's worker holds the lock: it is alive
        worker.execute("SELECT pg_advisory_lock(%s)", [RETIER_LOCK_KEY])
        page = client.get(reverse("tiering:runs")).content.decode()

    assert "computing metrics 3/8 ranges" in page
    assert f'hx-get="{reverse("tiering:run_progress", args=[run.pk])}"' in page


def test_a_run_left_running_without_its_lock_is_shown_as_interrupted(client, make_user):
    client.force_login(make_user("Admin"))
    RetierRun.objects.create(as_of=dt.date(2026, 11, 22))

    page = client.get(reverse("tiering:runs")).content.decode()

    assert "Interrupted" in page and "worker died or was killed" in page


def test_progress_of_a_finished_run_tells_htmx_to_reload_the_page(client, make_user):
    client.force_login(make_user("Admin"))
    run = finished_run()

    response = client.get(reverse("tiering:run_progress", args=[run.pk]))

    assert response["HX-Refresh"] == "true"


def test_the_detail_shows_the_movement_matrix(client, make_user):
    client.force_login(make_user("Admin"))
    run = finished_run()

    page = client.get(reverse("tiering:run_detail", args=[run.pk])).content.decode()

    assert "Movements" in page and ">12<" in page and ">3<" in page


def test_the_detail_says_how_many_customers_a_run_recomputed(client, make_user):
    client.force_login(make_user("Admin"))
    nightly = finished_run(progress={"mode": "changed", "recomputed": 9712, "rewritten": 12056})
    first = finished_run(progress={"mode": "all", "recomputed": 1000000, "rewritten": 1000000})

    nightly_page = client.get(reverse("tiering:run_detail", args=[nightly.pk])).content.decode()
    first_page = client.get(reverse("tiering:run_detail", args=[first.pk])).content.decode()

    assert "9,712 customers whose data or window changed" in nightly_page and "12,056" in nightly_page
    assert "every customer (1,000,000)" in first_page


def test_run_now_in_process_says_done_and_shows_the_run(client, make_user, django_capture_on_commit_callbacks):
    client.force_login(make_user("Admin"))
    from tests.tiering.retier_helpers import publish_rules

    publish_rules()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tiering:run_now"), follow=True)

    run = RetierRun.objects.get()  # eager Celery in tests without REDIS_URL: it has run already
    assert (run.triggered_by, run.status) == (response.wsgi_request.user.username, RetierRun.Status.SUCCEEDED)
    page = response.content.decode()
    assert f"Re-tier done: run {run.pk} finished." in page and "Re-tier queued" not in page
    assert response.redirect_chain[-1][0] == reverse("tiering:run_detail", args=[run.pk])


def test_run_now_needs_the_permission_and_a_post(client, make_user):
    client.force_login(make_user("Account manager"))
    assert client.post(reverse("tiering:run_now")).status_code == 403
    client.force_login(make_user("Admin"))
    assert client.get(reverse("tiering:run_now")).status_code == 405


def test_run_now_with_the_queue_down_says_so_and_records_no_run(client, make_user, broker_down):
    client.force_login(make_user("Admin"))

    response = client.post(reverse("tiering:run_now"), follow=True)

    page = response.content.decode()
    assert response.status_code == 200
    assert "The task queue (Redis) cannot be reached" in page and "Re-tier queued" not in page
    assert not RetierRun.objects.exists()


def test_run_now_with_a_worker_queue_says_queued_and_records_nothing_yet(client, make_user):
    """With a real broker and no worker on it yet, the run has not started: "queued", not "done"."""
    import os

    from celery import Celery

    from config.celery import app

    redis_url = os.environ.get("RETIER_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=redis_url, task_always_eager=False)
    try:
        client.force_login(make_user("Admin"))
        response = client.post(reverse("tiering:run_now"), follow=True)
    finally:
        app.conf.update(saved)
        Celery(broker=redis_url).connection_for_write().default_channel.queue_purge("celery")

    page = response.content.decode()
    assert "Re-tier queued" in page and "Re-tier done" not in page
    assert not RetierRun.objects.exists()


@pytest.mark.parametrize("matrix", [{}, {"1->2": 12, "2->3": 3, "3->2": 1, "new->1": 40}])
def test_a_runs_page_uses_the_same_queries_however_many_moves_it_made(
    client, make_user, django_assert_num_queries, matrix
):
    client.force_login(make_user("Admin"))
    run = finished_run(matrix=matrix)

    # 1 session, 2 user, 3 user permissions, 4 group permissions, 5 the run joined with its rule set,
    # 6 the tiers (the matrix's rows and columns; its counts are the run's own), 7 the menu's
    # open-item count beside My queue.
    with django_assert_num_queries(7):
        client.get(reverse("tiering:run_detail", args=[run.pk]))
