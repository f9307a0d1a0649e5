"""Lifecycle stages as a customer moves through them, scored night after night (churn.lifecycle)."""

import datetime as dt

import pytest
from django.db import connection

from churn import risk
from churn.models import CustomerRisk

from . import synthetic
from .factories import FollowUpFactory, LapseFactory

pytestmark = pytest.mark.django_db

HISTORY, POPULATION = 500, 300
NEWCOMER, REGULAR, CLOSED_LOST, NEVER = range(POPULATION, POPULATION + 4)


@pytest.fixture
def business():
    _, events = synthetic.poisson_buyers(customers=POPULATION, days=HISTORY, future_days=0, seed=4)
    events += [(NEWCOMER, HISTORY - 10)]
    events += [(REGULAR, day) for day in range(0, HISTORY, 7)]
    events += [(CLOSED_LOST, day) for day in range(0, HISTORY - 100, 20)]
    ids = synthetic.load(events, customers=POPULATION + 4)
    as_of = synthetic.day(HISTORY - 1)
    return ids, risk.train_model(as_of=as_of, horizon_days=90), as_of


def stages_on(model, day: dt.date, ids) -> dict[int, str]:
    risk.score_customers(model=model, as_of=day)
    stages = dict(CustomerRisk.objects.values_list("customer_id", "stage"))
    return {who: stages[ids[who]] for who in (NEWCOMER, REGULAR, CLOSED_LOST, NEVER)}


def order(customer_id: int, day: dt.date) -> None:
    at = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH o AS (INSERT INTO customers_order (order_id, customer_id, placed_at) VALUES (%s, %s, %s) RETURNING id)"
            " INSERT INTO customers_orderline (order_id, product_id, customer_id, placed_at, quantity, amount)"
            " SELECT o.id, (SELECT min(id) FROM customers_product), %s, %s, 1, 20 FROM o",
            [f"NEW-{customer_id}-{day}", customer_id, at, customer_id, at],
        )


def test_a_newcomer_lapses_and_is_then_lost_while_a_regular_stays_active(business):
    ids, model, as_of = business

    first = stages_on(model, as_of, ids)
    later = stages_on(model, as_of + dt.timedelta(days=85), ids)  # 95 days of silence for the newcomer
    much_later = stages_on(model, as_of + dt.timedelta(days=175), ids)  # 185 days: twice the 90

    assert (first[NEWCOMER], later[NEWCOMER], much_later[NEWCOMER]) == ("new", "lapsed", "lost")
    assert first[REGULAR] == "active"
    assert first[NEVER] == ""  # no order yet: no stage


def test_closed_as_lost_stays_lost_until_they_buy_again_and_is_then_won_back(business):
    ids, model, as_of = business
    last_order = dt.datetime.combine(synthetic.day(380), dt.time(12), tzinfo=dt.UTC)
    lapse = LapseFactory(customer_id=ids[CLOSED_LOST], last_order_at=last_order)
    FollowUpFactory(lapse=lapse, status="lost")

    assert stages_on(model, as_of, ids)[CLOSED_LOST] == "lost"  # 119 days silent: lapsed, but closed as lost

    order(ids[CLOSED_LOST], as_of + dt.timedelta(days=1))
    lapse.returned_at = dt.datetime.combine(as_of + dt.timedelta(days=2), dt.time(2), tzinfo=dt.UTC)
    lapse.returned_on = as_of + dt.timedelta(days=1)  # the nightly run as of that day saw the order
    lapse.save()

    assert stages_on(model, as_of + dt.timedelta(days=2), ids)[CLOSED_LOST] == "won_back"
    assert stages_on(model, as_of + dt.timedelta(days=100), ids)[CLOSED_LOST] != "won_back"  # past H


def test_a_replayed_history_dates_the_win_back_by_the_run_that_saw_it_not_by_when_it_ran(business):
    # A replay of past nights (or a backfill) runs today: `returned_at` is today's wall clock, years
    # after the history; `returned_on` is the as-of date of the replayed run that saw the return.
    ids, model, as_of = business
    last_order = dt.datetime.combine(synthetic.day(380), dt.time(12), tzinfo=dt.UTC)
    order(ids[CLOSED_LOST], as_of + dt.timedelta(days=1))
    order(ids[CLOSED_LOST], as_of + dt.timedelta(days=80))  # and buys on: not lapsed again by day 100
    LapseFactory(
        customer_id=ids[CLOSED_LOST],
        last_order_at=last_order,
        returned_at=dt.datetime.now(dt.UTC),
        returned_on=as_of + dt.timedelta(days=3),  # the replayed night that saw it (nights 1-2 skipped)
    )

    unseen = stages_on(model, as_of + dt.timedelta(days=2), ids)[CLOSED_LOST]  # bought, no run has seen it yet
    soon = stages_on(model, as_of + dt.timedelta(days=30), ids)[CLOSED_LOST]
    past_h = stages_on(model, as_of + dt.timedelta(days=100), ids)[CLOSED_LOST]  # 97 days after it was seen

    assert soon == "won_back"
    assert unseen != "won_back"
    assert past_h != "won_back"
