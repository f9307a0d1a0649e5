"""Order logs whose truth is known, loaded with COPY (fast enough for thousands of customers)."""

import datetime as dt
from decimal import Decimal

import numpy as np
from django.db import connection

from customers.models import Customer, Product

START = dt.date(2022, 1, 1)


def poisson_buyers(*, customers: int, days: int, future_days: int, seed: int = 0):
    """Customers who each buy at their own constant daily rate (a Gamma mix), from a start day in
    the first half of the log: returns the rates and the order days (history and future alike)."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(shape=0.8, scale=1 / 50, size=customers)
    starts = rng.integers(0, days // 2, size=customers)
    events = []
    for i, (rate, start) in enumerate(zip(rates, starts, strict=True)):
        events.append((i, int(start)))
        day = float(start)
        while True:
            day += rng.exponential(1 / rate)
            if day >= days + future_days:
                break
            events.append((i, int(day)))
    return rates, events


def load(events: list[tuple[int, int]], *, customers: int, amount: str = "20.00") -> list[int]:
    """Customers 0..n-1 and one order (one line) per (customer, day offset from START) event,
    de-duplicated per day; returns the customers' ids in order."""
    product = Product.objects.create(sku="SYN-1", name="Synthetic", category="general")
    Customer.objects.bulk_create(Customer(external_id=f"S{i:06d}", name=f"Synthetic {i}") for i in range(customers))
    ids = list(
        Customer.objects.filter(external_id__startswith="S").order_by("external_id").values_list("id", flat=True)
    )
    days = sorted(set(events))
    with connection.cursor() as cursor:
        with cursor.cursor.copy("COPY customers_order (order_id, customer_id, placed_at) FROM STDIN") as copy:
            for n, (i, day) in enumerate(days):
                copy.write_row((f"O{n}", ids[i], _at(day)))
        cursor.execute(
            "INSERT INTO customers_orderline (order_id, product_id, customer_id, placed_at, quantity, amount)"
            " SELECT o.id, %s, o.customer_id, o.placed_at, 1, %s FROM customers_order o",
            [product.pk, Decimal(amount)],
        )
    return ids


def _at(day: int) -> dt.datetime:
    return dt.datetime.combine(START + dt.timedelta(days=day), dt.time(12), tzinfo=dt.UTC)


def day(offset: int) -> dt.date:
    return START + dt.timedelta(days=offset)
