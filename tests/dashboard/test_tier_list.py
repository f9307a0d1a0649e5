import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.factories import CustomerMetricsFactory
from tiering.models import RetierRun, TierChange

from .conftest import at

pytestmark = pytest.mark.django_db
URL = reverse("dashboard:tier_list")


def names(response) -> list[str]:
    return [row.customer.name for row in response.context["page"].rows]


def warnings(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_lists_customers_by_net_margin_highest_first(as_manager, make_metrics):
    make_metrics(name="Low", net_margin="10.00")
    make_metrics(name="High", net_margin="900.00")
    make_metrics(name="Middle", net_margin="300.00")

    response = as_manager.get(URL)

    assert response.status_code == 200
    assert names(response) == ["High", "Middle", "Low"]
    assert "€900.00" in response.content.decode()


def test_a_tier_page_shows_only_that_tier(as_manager, make_metrics):
    make_metrics(name="Lifetime one", tier=3)
    make_metrics(name="Loyal one", tier=2)

    response = as_manager.get(reverse("dashboard:tier_list_level", args=[3]))

    assert names(response) == ["Lifetime one"]
    body = response.content.decode()
    assert "Lifetime" in body
    assert ">Tier</" not in body  # every row would show the same badge


def test_an_unknown_tier_is_not_found(as_manager):
    assert as_manager.get(reverse("dashboard:tier_list_level", args=[9])).status_code == 404


@pytest.mark.parametrize("query", ["Ada Lovelace", "lovelace", "ada@analytical", "x-42"])
def test_it_searches_by_name_email_or_external_id(as_manager, make_metrics, query):
    make_metrics(name="Ada Lovelace", email="ada@analytical.example", external_id="X-42")
    make_metrics(name="Charles Babbage", email="charles@engine.example", external_id="X-43")

    assert names(as_manager.get(URL, {"q": query})) == ["Ada Lovelace"]


def test_it_filters_by_account_manager_and_my_customers(as_manager, manager, make_user, make_metrics):
    other = make_user("Account manager")
    make_metrics(name="Mine", account_manager=manager)
    make_metrics(name="Theirs", account_manager=other)
    make_metrics(name="Nobody's")

    assert names(as_manager.get(URL, {"mine": "on"})) == ["Mine"]
    assert names(as_manager.get(URL, {"manager": other.pk})) == ["Theirs"]


def test_it_filters_by_margin_and_revenue_ranges(as_manager, make_metrics):
    make_metrics(name="Small", revenue="100.00", net_margin="20.00")
    make_metrics(name="Medium", revenue="1000.00", net_margin="300.00")
    make_metrics(name="Large", revenue="9000.00", net_margin="4000.00")

    assert names(as_manager.get(URL, {"min_margin": "100", "max_margin": "3000"})) == ["Medium"]
    assert names(as_manager.get(URL, {"min_revenue": "1000"})) == ["Large", "Medium"]
    assert names(as_manager.get(URL, {"max_revenue": "999.99"})) == ["Small"]


def test_it_filters_by_last_order_date_including_both_days(as_manager, make_metrics):
    make_metrics(name="March", last_order_at=at("2026-03-01T23:30:00"))
    make_metrics(name="April", last_order_at=at("2026-04-15T08:00:00"))
    make_metrics(name="Never", last_order_at=None)

    response = as_manager.get(URL, {"last_order_from": "2026-03-01", "last_order_to": "2026-03-01"})
    assert names(response) == ["March"]
    assert names(as_manager.get(URL, {"last_order_from": "2026-03-02"})) == ["April"]


def test_it_lists_the_customers_who_moved_in_a_run_from_and_to_a_tier(as_manager, make_metrics):
    run = RetierRun.objects.create(as_of="2026-11-01", status="succeeded")
    up = make_metrics(name="Went up", tier=3)
    down = make_metrics(name="Went down", tier=1)
    make_metrics(name="Stayed", tier=2)
    TierChange.objects.create(
        customer=up.customer, run=run, from_tier=2, to_tier=3, changed_at=at("2026-11-01T02:00:00")
    )
    TierChange.objects.create(
        customer=down.customer, run=run, from_tier=2, to_tier=1, changed_at=at("2026-11-01T02:00:00")
    )

    assert sorted(names(as_manager.get(URL, {"run": run.pk}))) == ["Went down", "Went up"]
    assert names(as_manager.get(URL, {"run": run.pk, "moved_from": 2, "moved_to": 3})) == ["Went up"]


def test_it_lists_the_customers_placed_for_the_first_time_in_a_run(as_manager, make_metrics):
    run = RetierRun.objects.create(as_of="2026-11-01", status="succeeded")
    new = make_metrics(name="New", tier=2)
    old = make_metrics(name="Old", tier=2)
    TierChange.objects.create(
        customer=new.customer, run=run, from_tier=None, to_tier=2, changed_at=at("2026-11-01T02:00:00")
    )
    TierChange.objects.create(
        customer=old.customer, run=run, from_tier=1, to_tier=2, changed_at=at("2026-11-01T02:00:00")
    )

    assert names(as_manager.get(URL, {"run": run.pk, "moved_from": "new", "moved_to": 2})) == ["New"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("net_margin", ["B", "C", "A"]),
        ("-revenue", ["B", "A", "C"]),
        ("orders", ["C", "A", "B"]),
        ("-last_order_at", ["A", "C", "B"]),
    ],
)
def test_it_sorts_by_a_shown_metric(as_manager, make_metrics, sort, expected):
    make_metrics(name="A", revenue="500", net_margin="300", orders=5, last_order_at=at("2026-10-01T00:00:00"))
    make_metrics(name="B", revenue="900", net_margin="100", orders=9, last_order_at=at("2026-01-01T00:00:00"))
    make_metrics(name="C", revenue="200", net_margin="200", orders=1, last_order_at=at("2026-06-01T00:00:00"))

    assert names(as_manager.get(URL, {"sort": sort})) == expected


def test_equal_values_keep_a_stable_order_by_customer_across_pages(as_manager, make_metrics):
    made = [make_metrics(name=f"Same {i:02d}", net_margin="100.00") for i in range(30)]

    first = names(as_manager.get(URL, {"per_page": 25}))
    second = names(as_manager.get(URL, {"per_page": 25, "page": 2}))

    # Sorting by margin descending breaks ties by customer id descending: no row twice, none lost.
    assert first + second == [m.customer.name for m in reversed(made)]


@pytest.mark.parametrize("per_page", [25, 50, 100])
def test_it_shows_the_chosen_page_size(as_manager, make_metrics, per_page):
    CustomerMetricsFactory.create_batch(110)

    response = as_manager.get(URL, {"per_page": per_page})

    assert len(names(response)) == per_page
    assert response.context["page"].has_next


def test_the_url_keeps_filters_in_sort_and_page_links(as_manager, make_metrics):
    CustomerMetricsFactory.create_batch(30)

    body = as_manager.get(URL, {"per_page": 25, "min_margin": "5", "sort": "-revenue"}).content.decode()

    assert 'href="?per_page=25&amp;min_margin=5&amp;sort=-revenue&amp;page=2"' in body
    assert "sort=revenue" in body  # the Revenue header flips the order and keeps the filters


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"page": "abc"}, "Page “abc” is not a page number"),
        ({"page": "0"}, "Page “0” is not a page number"),
        ({"per_page": "7"}, "Rows per page “7” is not one of 25, 50, 100"),
        ({"sort": "password"}, "Cannot sort by “password”"),
        ({"min_margin": "xyz"}, "Ignored Net margin from “xyz”: Enter a number."),
        ({"last_order_from": "2026-13-45"}, "Ignored Last order from “2026-13-45”: Enter a valid date."),
        ({"manager": "99999"}, "Ignored Account manager “99999”"),
        ({"run": "first"}, "Ignored Moved in run “first”"),
        ({"moved_from": "up"}, "Ignored Moved from tier “up”: Enter a tier level or “new”."),
        ({"page": "99"}, "There is no page 99 for this list"),
    ],
)
def test_a_bad_query_string_value_falls_back_to_its_default_with_a_message(as_manager, make_metrics, query, message):
    make_metrics(name="Still listed")

    response = as_manager.get(URL, query)

    assert response.status_code == 200
    assert names(response) == ["Still listed"]
    assert any(w.startswith(message) for w in warnings(response)), warnings(response)


def test_an_unfiltered_list_takes_its_total_from_the_last_run_not_a_count(
    as_manager, make_metrics, django_assert_num_queries
):
    RetierRun.objects.create(as_of="2026-11-01", status="succeeded", counts={"1": 7, "2": 1200, "3": 30})
    make_metrics(tier=2)

    body = as_manager.get(reverse("dashboard:tier_list_level", args=[2])).content.decode()

    assert "of 1,200 customers" in body


def test_the_query_count_does_not_grow_with_the_page_size(client, manager, make_metrics, django_assert_num_queries):
    CustomerMetricsFactory.create_batch(120)
    RetierRun.objects.create(as_of="2026-11-01", status="succeeded", counts={"2": 120})
    client.force_login(manager)
    for per_page in (25, 100):
        # 1 session, 2 user, 3 user's own permissions, 4 group permissions,
        # 5 tiers (names and colours),
        # 6 the page of rows: metrics JOIN customer LEFT JOIN manager for the keys of
        #   (metrics ORDER BY margin, id LIMIT per_page + 1 OFFSET ...) in a subquery: no COUNT,
        # 7 the last succeeded run, whose per-tier counts give the list's total,
        # 8 the highest customer id the metrics hold, 9 customers above it with no metrics row
        #   (not placed yet), newest first, 10 the user's saved views,
        # 11 account managers for the filter's choices (rendered with the form),
        # 12 the menu's open-item count beside My queue.
        with django_assert_num_queries(12):
            response = client.get(URL, {"per_page": per_page, "sort": "-net_margin"})
        assert len(names(response)) == per_page


def test_a_filtered_list_adds_one_bounded_count_query(client, manager, make_metrics, django_assert_num_queries):
    CustomerMetricsFactory.create_batch(60)
    client.force_login(manager)
    for per_page in (25, 50):
        # 1 session, 2 user, 3-4 permissions, 5 tiers,
        # 6 the ids of the customers the search matches (the trigram index, read once; up to 5,001),
        # 7 the page of rows with the filters,
        # 8 the planner's estimate of the total (EXPLAIN), below 10,000 here, so
        # 9 the total: COUNT(*) over (the filtered keys LIMIT 10,001),
        # 10 the user's saved views, 11 account managers for the filter's choices, 12 the menu's open-item count.
        # (No "not placed yet" query: a margin filter cannot hold for a customer with no metrics.)
        with django_assert_num_queries(12):
            response = client.get(URL, {"min_margin": "0", "q": "Customer", "per_page": per_page})
        assert "60 customers match" in response.content.decode()


def test_marketing_may_not_open_tier_lists(client, marketer):
    client.force_login(marketer)
    assert client.get(URL).status_code == 403
    assert client.get(reverse("dashboard:tier_list_level", args=[3])).status_code == 403


def test_admins_may_open_tier_lists(client, admin_user):
    client.force_login(admin_user)
    assert client.get(URL).status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_no_customers_says_what_to_do_next(as_manager):
    body = as_manager.get(URL).content.decode()
    assert "No customers yet" in body
    assert "seed_demo" in body
