import pytest

from tests.factories import CustomerMetricsFactory


@pytest.fixture
def target(db):
    """A customer with their metrics row (tier 2 unless told), as a re-tier would leave them."""

    def make(tier=2, **customer_fields):
        fields = {f"customer__{key}": value for key, value in customer_fields.items()}
        return CustomerMetricsFactory(tier=tier, **fields).customer

    return make
