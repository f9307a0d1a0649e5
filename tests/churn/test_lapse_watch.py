"""Nightly detection looks only at the customers the lapse watch names, and still finds every lapse
(PostgreSQL, through real re-tier runs)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from churn.models import ChurnPolicy, Lapse, LapseWatchState
from churn.services import new_lapses_sql
from tests.factories import CustomerFactory
from tests.tiering.retier_helpers import at, buy
from tiering.services import retier_all

pytestmark = pytest.mark.django_db


def lapsed_without_a_lapse(as_of: dt.date) -> list[int]:
    """Customers lapsed as of `as_of` under the policy in force with no lapse recorded: a full scan."""
    policy = ChurnPolicy.current()
    with connection.cursor() as cursor:
        cursor.execute(
            new_lapses_sql(),
            {"as_of": as_of, "min_days": policy.min_days, "gap_multiple": policy.gap_multiple},
        )
        return [row[0] for row in cursor.fetchall()]


def set_policy(*, min_days: int, gap_multiple: str = "2.50") -> None:
    ChurnPolicy.objects.filter(pk=ChurnPolicy.current().pk).update(
        min_days=min_days, gap_multiple=Decimal(gap_multiple)
    )


def test_a_customer_is_found_lapsed_on_the_night_their_silence_passes_the_policy():
    set_policy(min_days=90)
    quiet = CustomerFactory()
    buy(quiet, at("2026-08-01"))  # 90 days before 2026-10-30
    retier_all(as_of=dt.date(2026, 10, 29))
    retier_all(as_of=dt.date(2026, 10, 30))
    assert not Lapse.objects.filter(customer=quiet).exists()

    retier_all(as_of=dt.date(2026, 10, 31))  # the 91st day

    assert Lapse.objects.filter(customer=quiet, detected_on=dt.date(2026, 10, 31)).exists()
    assert LapseWatchState.objects.get().as_of == dt.date(2026, 10, 31)


def test_a_customers_own_rhythm_sets_their_lapse_day_when_it_is_longer_than_the_minimum():
    set_policy(min_days=30, gap_multiple="2.50")
    slow = CustomerFactory()
    for day in ("2026-01-01", "2026-03-02", "2026-05-01"):  # a median gap of 60 days: lapsed after 150
        buy(slow, at(day))
    retier_all(as_of=dt.date(2026, 9, 27))  # 149 days
    retier_all(as_of=dt.date(2026, 9, 28))  # 150 days: not more than 150 yet
    assert not Lapse.objects.filter(customer=slow).exists()

    retier_all(as_of=dt.date(2026, 9, 29))

    assert Lapse.objects.filter(customer=slow).count() == 1


def test_an_edited_policy_is_applied_to_everyone_on_the_next_run():
    set_policy(min_days=120)
    quiet = CustomerFactory()
    buy(quiet, at("2026-08-01"))
    retier_all(as_of=dt.date(2026, 11, 20))  # 111 days: not lapsed under 120
    assert not Lapse.objects.exists()

    set_policy(min_days=100)
    retier_all(as_of=dt.date(2026, 11, 21))

    assert Lapse.objects.filter(customer=quiet).count() == 1
    assert (LapseWatchState.objects.get().min_days, lapsed_without_a_lapse(dt.date(2026, 11, 21))) == (100, [])


def test_a_customer_who_orders_again_and_goes_quiet_again_lapses_a_second_time():
    set_policy(min_days=30, gap_multiple="1.00")
    c = CustomerFactory()
    buy(c, at("2026-01-01"))
    buy(c, at("2026-01-05"))
    retier_all(as_of=dt.date(2026, 3, 1))
    assert Lapse.objects.filter(customer=c).count() == 1

    buy(c, at("2026-03-01"), amount="40.00")
    for day in range(1, 40):
        retier_all(as_of=dt.date(2026, 3, 1) + dt.timedelta(days=day))

    lapses = list(
        Lapse.objects.filter(customer=c).order_by("last_order_at").values_list("last_order_at", "detected_on")
    )
    assert lapses == [(at("2026-01-05"), dt.date(2026, 3, 1)), (at("2026-03-01"), dt.date(2026, 4, 1))]


def test_a_lapse_deleted_by_hand_is_found_again_by_the_next_run():
    set_policy(min_days=30)
    c = CustomerFactory()
    buy(c, at("2026-09-01"))
    retier_all(as_of=dt.date(2026, 11, 20))
    Lapse.objects.filter(customer=c).delete()

    retier_all(as_of=dt.date(2026, 11, 21))

    assert Lapse.objects.filter(customer=c, detected_on=dt.date(2026, 11, 21)).exists()
