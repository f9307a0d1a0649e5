import pytest

from api import services
from api.scopes import SCOPES


@pytest.fixture
def make_token(db):
    """make_token("read:customers", ...) -> the secret of a new token with those scopes (all by default)."""

    def make(*scopes: str, name: str = "CRM sync", **kwargs) -> str:
        _, secret = services.token_create(name=name, scopes=list(scopes or SCOPES), **kwargs)
        return secret

    return make


@pytest.fixture
def api_get(client):
    """GET an API path with a bearer token (or none)."""

    def get(path: str, token: str | None = None, **params):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return client.get(path, params, headers=headers)

    return get


@pytest.fixture
def api_data(db):
    """A little of everything the API reads: customers in each tier (one with churn risk and a
    stage), a run with tier changes, a lapse with its follow-up, a saved promotion."""
    import datetime as dt
    from decimal import Decimal

    from churn.models import CustomerRisk
    from promotions.models import Promotion
    from tests.churn.factories import FollowUpFactory, RetierRunFactory, TierChangeFactory
    from tests.factories import CustomerFactory
    from tiering.models import CustomerMetrics

    run = RetierRunFactory(as_of=dt.date(2026, 11, 20))
    customers = []
    for level in (1, 2, 3, 2, 3):
        customer = CustomerFactory()
        CustomerMetrics.objects.create(
            customer=customer,
            changed_as_of=dt.date(2026, 11, 1) if level == 1 else dt.date(2026, 11, 20),
            tier=level,
            revenue=Decimal("1200.50"),
            net_margin=Decimal("300.25"),
            orders=4,
            last_order_at=dt.datetime(2026, 11, 10, 15, 0, tzinfo=dt.UTC),
        )
        TierChangeFactory(customer=customer, run=run, from_tier=None, to_tier=level, why={"held": [f"tier {level}"]})
        customers.append(customer)
    CustomerRisk.objects.create(customer=customers[2], risk=0.71, as_of=dt.date(2026, 11, 20), stage="at_risk")
    CustomerRisk.objects.create(customer=customers[4], risk=0.05, as_of=dt.date(2026, 11, 20), stage="active")
    follow_up = FollowUpFactory(lapse__customer=customers[2], lapse__run=run)
    promotion = Promotion.objects.create(
        name="Winter", starts_on=dt.date(2026, 12, 1), ends_on=dt.date(2026, 12, 31), tiers=[2, 3]
    )
    return {"run": run, "customers": customers, "follow_up": follow_up, "promotion": promotion}
