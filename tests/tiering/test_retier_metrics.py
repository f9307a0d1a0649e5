"""The set-based metrics as of a date, on hand-made customers (PostgreSQL)."""

import datetime as dt
from decimal import Decimal

import pytest

from tests.factories import CustomerFactory, ProductFactory
from tests.tiering.retier_helpers import at, buy, complain, metrics_as_of
from tiering.metrics import window

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 22)


def test_the_window_is_the_twelve_months_ending_with_the_whole_as_of_day():
    start, end = window(AS_OF)
    assert (start.isoformat(), end.isoformat()) == ("2025-11-23T00:00:00+00:00", "2026-11-23T00:00:00+00:00")


def test_a_leap_day_window_starts_the_day_after_the_shorter_month_end():
    assert window(dt.date(2028, 2, 29))[0].date() == dt.date(2027, 3, 1)


def test_lines_on_the_window_edges_count_exactly_when_inside():
    c = CustomerFactory()
    buy(c, at("2025-11-22", "23:59:59"), amount="1.00")  # a second before the window: history only
    buy(c, at("2025-11-23", "00:00:00"), amount="10.00")  # the window's first second
    buy(c, at("2026-11-22", "23:59:59"), amount="100.00")  # the as-of day's last second
    buy(c, at("2026-11-23", "00:00:00"), amount="1000.00")  # after as_of: never counts

    m = metrics_as_of(AS_OF)[c.pk]

    assert m.revenue == Decimal("110.00")
    assert m.orders == 2
    assert m.first_order_at == at("2025-11-22", "23:59:59")
    assert m.last_order_at == at("2026-11-22", "23:59:59")
    assert m.days_since_last_order == 0
    assert m.active_months == 2  # November 2025 and November 2026


def test_metrics_as_of_a_past_date_ignore_everything_that_happened_later():
    c = CustomerFactory()
    buy(c, at("2026-03-01"))
    complain(c, at("2026-04-01"), compensation="5")
    before = metrics_as_of(dt.date(2026, 6, 30))[c.pk]

    buy(c, at("2026-07-01"), amount="999.00")
    complain(c, at("2026-07-02"), compensation="50")
    again = metrics_as_of(dt.date(2026, 6, 30))[c.pk]

    fields = [
        "revenue",
        "compensation",
        "orders",
        "last_order_at",
        "days_since_last_order",
        "complaints",
        "median_gap_days",
    ]
    assert [getattr(again, f) for f in fields] == [getattr(before, f) for f in fields]


def test_money_sums_the_window_and_a_missing_cost_counts_as_zero():
    c = CustomerFactory()
    buy(c, at("2026-05-01"), amount="200.00", cost="80.00")
    buy(c, at("2026-06-01"), amount="50.00", cost=None)
    complain(c, at("2026-06-02"), outcome="upheld", compensation="25.00")

    m = metrics_as_of(AS_OF)[c.pk]

    assert (m.revenue, m.cost, m.compensation, m.net_margin) == (
        Decimal("250.00"),
        Decimal("80.00"),
        Decimal("25.00"),
        Decimal("145.00"),
    )
    assert m.compensation_share == Decimal("0.1000")


def test_compensation_without_revenue_is_a_share_of_one_and_neither_is_zero():
    taker, quiet = CustomerFactory(), CustomerFactory()
    complain(taker, at("2026-06-02"), compensation="30.00")

    rows = metrics_as_of(AS_OF)

    assert rows[taker.pk].compensation_share == Decimal("1")
    assert rows[taker.pk].net_margin == Decimal("-30.00")
    assert rows[quiet.pk].compensation_share == Decimal("0")


def test_median_gap_is_over_distinct_order_days_of_all_time():
    c = CustomerFactory()
    for day in ["2020-01-01", "2020-01-05", "2020-01-06", "2026-01-06"]:  # gaps 4, 1, 2192
        buy(c, at(day))
    buy(c, at("2020-01-06", "18:00:00"))  # a second order the same day adds no gap

    assert metrics_as_of(AS_OF)[c.pk].median_gap_days == Decimal("4.0")


def test_median_gap_of_an_even_number_of_gaps_is_the_mean_of_the_middle_two():
    c = CustomerFactory()
    for day in ["2026-01-01", "2026-01-05", "2026-01-06"]:  # gaps 4 and 1
        buy(c, at(day))

    assert metrics_as_of(AS_OF)[c.pk].median_gap_days == Decimal("2.5")


def test_a_single_order_day_has_no_median_gap():
    c = CustomerFactory()
    buy(c, at("2026-01-01", "09:00:00"))
    buy(c, at("2026-01-01", "17:00:00"))

    assert metrics_as_of(AS_OF)[c.pk].median_gap_days is None


def test_new_products_are_those_launched_within_the_window_and_bought_in_it():
    c = CustomerFactory()
    fresh = ProductFactory(launched_on=dt.date(2026, 6, 1), category="gadgets")
    old = ProductFactory(launched_on=dt.date(2024, 1, 1), category="tools")
    future = ProductFactory(launched_on=dt.date(2026, 12, 1), category="tools")  # launched after as_of
    buy(c, at("2026-06-10"), product=fresh)
    buy(c, at("2026-07-10"), product=fresh)
    buy(c, at("2026-07-11"), product=old)
    buy(c, at("2026-07-12"), product=future)

    m = metrics_as_of(AS_OF)[c.pk]

    assert (m.new_products, m.categories) == (1, 2)


@pytest.mark.parametrize("catalogue", [3, 70], ids=["counted-by-bits", "more-than-a-bitmask-holds"])
def test_distinct_categories_and_new_products_count_the_same_whatever_the_catalogue_size(catalogue):
    products = [
        ProductFactory(category=f"cat-{i:02d}", launched_on=dt.date(2026, 5, 1)) for i in range(catalogue)
    ]  # 3 fit the bitmask; 70 do not
    c, other = CustomerFactory(), CustomerFactory()
    for product in (products[0], products[0], products[-1], products[1]):
        buy(c, at("2026-06-10"), product=product)
    buy(other, at("2026-06-10"), product=products[-1])

    rows = metrics_as_of(AS_OF)

    assert (rows[c.pk].categories, rows[c.pk].new_products) == (3, 3)
    assert (rows[other.pk].categories, rows[other.pk].new_products) == (1, 1)


def test_complaints_count_complaint_tickets_in_the_window_and_the_rejected_ones():
    c = CustomerFactory()
    complain(c, at("2026-02-01"), outcome="rejected")
    complain(c, at("2026-03-01"), outcome="upheld")
    complain(c, at("2026-03-02"), kind="question", outcome="", compensation="10")
    complain(c, at("2025-01-01"), outcome="rejected")  # before the window

    m = metrics_as_of(AS_OF)[c.pk]

    assert (m.complaints, m.rejected_complaints, m.compensation) == (2, 1, Decimal("10.00"))


def test_tenure_runs_from_the_earlier_of_sign_up_and_first_order():
    early_buyer = CustomerFactory(signed_up_on=dt.date(2026, 1, 1))
    buy(early_buyer, at("2025-11-12"))  # ordered before signing up (imported history)
    late_buyer = CustomerFactory(signed_up_on=dt.date(2026, 11, 12))

    rows = metrics_as_of(AS_OF)

    assert rows[early_buyer.pk].tenure_days == 375
    assert rows[late_buyer.pk].tenure_days == 10


def test_a_customer_without_orders_or_tickets_gets_a_row_of_zeros():
    c = CustomerFactory(signed_up_on=None)

    m = metrics_as_of(AS_OF)[c.pk]

    assert (m.revenue, m.orders, m.active_months, m.categories, m.complaints, m.tenure_days) == (0, 0, 0, 0, 0, 0)
    assert (m.first_order_at, m.days_since_last_order, m.median_gap_days) == (None, None, None)


def test_ranges_of_customer_ids_together_give_the_same_metrics_as_one_range():
    customers = [CustomerFactory() for _ in range(5)]
    for i, c in enumerate(customers):
        buy(c, at("2026-03-01"), amount=f"{10 * (i + 1)}.00")
        buy(c, at(f"2026-0{i + 4}-01"))
    mid = customers[2].pk

    one = metrics_as_of(AS_OF)
    split = metrics_as_of(AS_OF, ranges=[(1, mid), (mid + 1, 10**12)])

    def values(rows):
        return {pk: (r.revenue, r.orders, r.median_gap_days, r.tenure_days) for pk, r in rows.items()}

    assert values(split) == values(one)
    assert len(split) == 5


def test_lifetime_metrics_count_all_time_and_the_year_before_the_window_gives_spend_growth():
    c = CustomerFactory()
    buy(c, at("2023-05-01"), amount="50.00", cost="10.00")  # three years back: lifetime only
    buy(c, at("2024-11-23", "00:00:00"), amount="100.00", cost="20.00")  # the year before's first second
    buy(c, at("2025-11-22", "23:59:59"), amount="200.00", cost="40.00")  # the year before's last second
    buy(c, at("2026-06-01"), amount="450.00", cost="90.00")  # the window
    buy(c, at("2026-11-23"), amount="9999.00")  # after as_of: never counts
    complain(c, at("2024-01-01"), compensation="5.00")  # before the window: lifetime margin only

    m = metrics_as_of(AS_OF)[c.pk]

    assert (m.lifetime_revenue, m.lifetime_orders, m.lifetime_net_margin) == (
        Decimal("800.00"),
        4,
        Decimal("800.00") - Decimal("160.00") - Decimal("5.00"),
    )
    assert (m.prior_revenue, m.revenue_growth) == (Decimal("300.00"), Decimal("1.5000"))
    assert (m.revenue, m.compensation) == (Decimal("450.00"), Decimal("0.00"))


def test_spend_growth_is_empty_without_revenue_the_year_before():
    c = CustomerFactory()
    buy(c, at("2026-06-01"))
    assert metrics_as_of(AS_OF)[c.pk].revenue_growth is None


def test_a_line_leaving_the_year_before_the_window_is_when_the_metrics_next_change():
    c = CustomerFactory()
    buy(c, at("2025-01-10"))  # in the year before the window of AS_OF; leaves it on 2027-01-10

    assert metrics_as_of(AS_OF)[c.pk].next_change_on == dt.date(2027, 1, 10)
