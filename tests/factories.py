"""factory_boy factories shared by every app's tests. App-specific factories live beside their tests."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.models import Group, User

from customers.models import Customer, Order, OrderLine, Product, Ticket
from tiering.models import CustomerMetrics

UTC = dt.UTC


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        """UserFactory(role="Admin") puts the user in that group (created by the roles migration)."""
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))
        if create:
            self.save()


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"C{n:06d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.LazyAttribute(lambda c: f"{c.external_id.lower()}@example.com")
    signed_up_on = dt.date(2020, 1, 1)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = "general"
    launched_on = dt.date(2019, 1, 1)


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    order_id = factory.Sequence(lambda n: f"O{n:07d}")
    customer = factory.SubFactory(CustomerFactory)
    placed_at = dt.datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    customer = factory.SelfAttribute("order.customer")
    placed_at = factory.SelfAttribute("order.placed_at")
    quantity = 1
    amount = Decimal("100.00")
    cost = Decimal("60.00")


class TicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ticket

    ticket_id = factory.Sequence(lambda n: f"T{n:07d}")
    customer = factory.SubFactory(CustomerFactory)
    opened_at = dt.datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
    kind = Ticket.Kind.COMPLAINT
    outcome = Ticket.Outcome.REJECTED
    compensation = Decimal("0")


class CustomerMetricsFactory(factory.django.DjangoModelFactory):
    """A customer's stored metrics and tier, as a re-tier run would leave them."""

    class Meta:
        model = CustomerMetrics

    customer = factory.SubFactory(CustomerFactory)
    changed_as_of = dt.date(2026, 11, 1)
    revenue = Decimal("1000.00")
    cost = Decimal("600.00")
    compensation = Decimal("0.00")
    net_margin = factory.LazyAttribute(lambda m: m.revenue - m.cost - m.compensation)
    orders = 5
    active_months = 5
    tier = 2
    tier_since = dt.datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    # The day counts are derived from dates (CustomerMetrics stores tenure_start and
    # last_order_at): a test may still give the counts, as of the row's changed_as_of.
    tenure_start = factory.LazyAttribute(
        lambda m: m.changed_as_of - dt.timedelta(days=m.tenure_days) if m.tenure_days else None
    )
    last_order_at = factory.LazyAttribute(
        lambda m: (
            None
            if m.days_since_last_order is None
            else dt.datetime.combine(
                m.changed_as_of - dt.timedelta(days=m.days_since_last_order), dt.time(12), tzinfo=UTC
            )
        )
    )

    class Params:
        tenure_days = 0
        days_since_last_order = None
