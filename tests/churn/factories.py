import datetime as dt
import itertools

import factory

from churn.models import FollowUp, Lapse
from customers.models import Customer, Order, OrderLine
from tests.factories import CustomerFactory
from tiering.models import CustomerMetrics, RetierRun, TierChange

UTC = dt.UTC


class RetierRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RetierRun

    as_of = dt.date(2026, 11, 20)
    status = RetierRun.Status.SUCCEEDED


class TierChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TierChange

    customer = factory.SubFactory(CustomerFactory)
    run = factory.SubFactory(RetierRunFactory)
    from_tier = None
    to_tier = 2
    changed_at = dt.datetime(2026, 1, 1, 2, 0, tzinfo=UTC)


class LapseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lapse

    customer = factory.SubFactory(CustomerFactory)
    detected_at = dt.datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    detected_on = dt.date(2026, 11, 2)
    last_order_at = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    tier_while_active = 3
    response = "Investigate"


class FollowUpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUp

    lapse = factory.SubFactory(LapseFactory)
    customer = factory.SelfAttribute("lapse.customer")
    kind = "investigate"
    priority = "high"
    tier = factory.SelfAttribute("lapse.tier_while_active")
    due_on = dt.date(2026, 11, 24)


_planted = itertools.count()


def plant_customers(
    n: int,
    *,
    tier: int = 3,
    first_order: dt.date = dt.date(2024, 1, 10),
    last_order: dt.date = dt.date(2026, 10, 20),
    bought=(),
    bought_on: dt.date | None = None,
    median_gap_days: int = 30,
) -> list[Customer]:
    """`n` customers as the nightly run leaves them (metrics: tier, first and last order, median gap),
    each with one order of every product in `bought` on `bought_on`. Bulk inserts: a few queries
    for hundreds of customers."""
    at = lambda day: dt.datetime.combine(day, dt.time(12), tzinfo=UTC)  # noqa: E731
    customers = Customer.objects.bulk_create(
        Customer(external_id=f"P{(i := next(_planted)):06d}", name=f"Planted {i}") for _ in range(n)
    )
    CustomerMetrics.objects.bulk_create(
        CustomerMetrics(
            customer=c,
            changed_as_of=dt.date(2026, 11, 1),
            orders=10,
            first_order_at=at(first_order),
            last_order_at=at(last_order),
            median_gap_days=median_gap_days,
            tier=tier,
        )
        for c in customers
    )
    for product in bought:
        orders = Order.objects.bulk_create(
            Order(order_id=f"PO{next(_planted):07d}", customer=c, placed_at=at(bought_on)) for c in customers
        )
        OrderLine.objects.bulk_create(
            OrderLine(order=o, product=product, customer=o.customer, placed_at=o.placed_at, quantity=1, amount=100)
            for o in orders
        )
    return customers
