import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache

from tests.factories import CustomerFactory, CustomerMetricsFactory

UTC = dt.UTC


@pytest.fixture(autouse=True)
def fresh_cache():
    """The overview caches tier totals per run; each test starts without them."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def manager(make_user):
    return make_user("Account manager", first_name="Amira", last_name="Haddad")


@pytest.fixture
def admin_user(make_user):
    return make_user("Admin")


@pytest.fixture
def marketer(make_user):
    return make_user("Marketing")


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def make_metrics(db):
    """make_metrics(tier=3, net_margin=..., name=..., **customer or metric fields)."""

    def make(
        *,
        tier=2,
        revenue="1000.00",
        net_margin="400.00",
        name=None,
        email=None,
        external_id=None,
        account_manager=None,
        **metrics,
    ):
        customer_fields = {
            k: v
            for k, v in {
                "name": name,
                "email": email,
                "external_id": external_id,
                "account_manager": account_manager,
            }.items()
            if v is not None
        }
        customer = CustomerFactory(**customer_fields)
        revenue, net_margin = Decimal(revenue), Decimal(net_margin)
        return CustomerMetricsFactory(
            customer=customer, tier=tier, revenue=revenue, cost=revenue - net_margin, net_margin=net_margin, **metrics
        )

    return make


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=UTC)
