import pytest
from django.urls import reverse

from tiering.models import RetierRun

pytestmark = pytest.mark.django_db
URL = reverse("home")


def test_it_shows_each_tier_as_count_and_share_of_customers_revenue_and_margin(as_manager, make_metrics):
    make_metrics(tier=3, revenue="6000.00", net_margin="3000.00")
    for _ in range(3):
        make_metrics(tier=2, revenue="1000.00", net_margin="300.00")
    make_metrics(tier=1, revenue="100.00", net_margin="-50.00")

    response = as_manager.get(URL)

    lifetime = next(t for t in response.context["pyramid"] if t.level == 3)
    assert (lifetime.customers, lifetime.customers_share) == (1, 0.2)
    assert lifetime.revenue_share == pytest.approx(6000 / 9100)
    assert lifetime.margin_share == pytest.approx(3000 / 3900)  # of the positive margin
    body = response.content.decode()
    assert "20.0 %" in body and "76.9 %" in body  # the same numbers as text, not only in the chart
    assert "−€50" in body  # tier 1 loses money, and it shows


def test_it_reads_the_pyramid_with_one_grouped_query(client, manager, make_metrics, django_assert_num_queries):
    for tier in (1, 2, 2, 3):
        make_metrics(tier=tier)
    RetierRun.objects.create(as_of="2026-11-01", status="succeeded")
    client.force_login(manager)
    # 1 session, 2 user, 3 user's permissions, 4 group permissions, 5 tiers,
    # 6 the last run, 7 customers/revenue/margin per tier: one GROUP BY over CustomerMetrics,
    # 8 the follow-up queue in numbers: one aggregate over the active follow-ups,
    # 9-12 the trends (dashboard.trends): the runs' and replayed month ends' tier totals (one
    # query), history moves per month before them, lapses per month, win-backs per month (not
    # cached: this run has no finish time),
    # 13 the menu's open-item count beside My queue.
    with django_assert_num_queries(13):
        client.get(URL)


def test_the_movement_matrix_links_to_the_customers_who_moved(as_manager, make_metrics):
    make_metrics(tier=3)
    run = RetierRun.objects.create(as_of="2026-11-01", status="succeeded", matrix={"2->3": 4, "3->2": 1}, moved=5)

    body = as_manager.get(URL).content.decode()

    assert f'href="/tiers/?run={run.pk}&amp;moved_from=2&amp;moved_to=3"' in body
    assert "4 customers moved from tier 2 to tier 3" in body
    assert "5 customers changed tier" in body


def test_first_placements_show_as_new_and_link_to_those_customers(as_manager, make_metrics):
    make_metrics(tier=2)
    run = RetierRun.objects.create(as_of="2026-11-01", status="succeeded", matrix={"new->2": 7}, moved=0)

    body = as_manager.get(URL).content.decode()

    assert f'href="/tiers/?run={run.pk}&amp;moved_from=new&amp;moved_to=2"' in body
    assert "7 new customers got a first tier" in body


def test_it_shows_the_last_runs_status_and_warns_when_it_failed(as_manager, make_metrics):
    make_metrics(tier=2)
    RetierRun.objects.create(as_of="2026-10-31", status="succeeded")
    RetierRun.objects.create(as_of="2026-11-01", status="failed", error="worker lost")

    body = as_manager.get(URL).content.decode()

    assert "Failed" in body
    assert "The last run failed: worker lost" in body


def test_with_no_follow_ups_it_says_what_will_queue_there(as_manager, make_metrics):
    make_metrics(tier=2)
    body = as_manager.get(URL).content.decode()
    assert 'id="followups"' in body and "No open follow-ups" in body
    assert "queue here for an account manager to claim" in body


def test_with_no_data_it_says_how_to_get_some(as_manager):
    body = as_manager.get(URL).content.decode()
    assert "No tiered customers yet" in body
    assert "seed_demo" in body and "retier" in body


def test_admins_see_the_overview(client, admin_user, make_metrics):
    make_metrics(tier=2)
    client.force_login(admin_user)
    assert "Tier pyramid" in client.get(URL).content.decode()


def test_marketing_gets_a_short_page_with_the_pages_they_may_use(client, marketer):
    client.force_login(marketer)

    body = client.get(URL).content.decode()

    assert "Tier pyramid" not in body
    assert 'href="/promotions/"' in body


def test_a_user_without_a_role_gets_a_short_page_not_the_overview(client, make_user):
    client.force_login(make_user(None))

    body = client.get(URL).content.decode()

    assert "Tier pyramid" not in body
    assert "Ask an admin to put your account in a role" in body
