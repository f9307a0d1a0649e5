"""The customer data in the Django admin: every list and an order with its lines open."""

import pytest
from django.urls import reverse

from tests.factories import OrderLineFactory, TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("model", ["customer", "product", "order", "ticket"])
def test_each_list_opens_and_shows_its_rows(admin_client, model):
    line = OrderLineFactory(order__order_id="O-777", product__sku="SKU-777", order__customer__external_id="C-777")
    TicketFactory(ticket_id="T-777", customer=line.customer)
    response = admin_client.get(reverse(f"admin:customers_{model}_changelist"))
    assert response.status_code == 200
    assert "777" in response.content.decode()


def test_an_order_shows_its_lines(admin_client):
    line = OrderLineFactory(product__sku="SKU-LINE")
    response = admin_client.get(reverse("admin:customers_order_change", args=[line.order_id]))
    assert response.status_code == 200
    assert "SKU-LINE" in response.content.decode()


def test_customers_are_searched_by_external_id_name_or_email(admin_client):
    from tests.factories import CustomerFactory

    CustomerFactory(external_id="C-FIND", name="Findable", email="find@example.com")
    CustomerFactory(external_id="C-OTHER", name="Other", email="other@example.com")
    for term in ("C-FIND", "Findable", "find@example"):
        page = admin_client.get(reverse("admin:customers_customer_changelist"), {"q": term}).content.decode()
        assert "C-FIND" in page and "C-OTHER" not in page
