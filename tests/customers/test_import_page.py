"""The upload page: admins import and see the report; other roles are refused."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from customers.models import Product

pytestmark = pytest.mark.django_db
URL = reverse("customers:import")


def upload(content: bytes, name="products.csv"):
    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_an_admin_sees_the_form_and_the_columns_of_each_kind(client, make_user):
    client.force_login(make_user("Admin"))
    response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'type="file"' in page
    for column in ("external_id", "launched_on", "order_id", "compensation"):
        assert f"<code>{column}</code>" in page


def test_an_admin_imports_a_file_and_sees_what_was_created(client, make_user):
    client.force_login(make_user("Admin"))
    response = client.post(
        URL, {"kind": "products", "file": upload(b"sku,name,category\nA1,Apple,fruit\nB2,Bean,veg\n")}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Imported 2 rows of products" in page
    assert "2 created · 0 updated · 0 unchanged" in page
    assert Product.objects.count() == 2


def test_an_admin_sees_every_error_line_and_nothing_is_imported(client, make_user):
    client.force_login(make_user("Admin"))
    response = client.post(URL, {"kind": "products", "file": upload(b"sku,name,category\nA1,,fruit\nA1,Apple,fruit\n")})
    page = response.content.decode()
    assert "Nothing was imported: 2 problems in 2 rows" in page
    assert "line 2: name: is required" in page
    assert "line 3: sku: duplicate key &#x27;A1&#x27; (sku), first seen on line 2" in page
    assert not Product.objects.exists()


def test_a_file_over_the_upload_limit_is_refused_with_a_clear_error(client, make_user, settings):
    settings.IMPORT_UPLOAD_MAX_BYTES = 10
    client.force_login(make_user("Admin"))
    response = client.post(URL, {"kind": "products", "file": upload(b"sku,name,category\nA1,Apple,fruit\n")})
    page = response.content.decode()
    assert "this page takes files up to 10\xa0bytes" in page
    assert "manage.py import_data KIND FILE" in page
    assert not Product.objects.exists()


@pytest.mark.parametrize("role", ["Account manager", "Marketing"])
def test_other_roles_are_refused(client, make_user, role):
    client.force_login(make_user(role))
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"kind": "products", "file": upload(b"sku,name,category\nA1,A,b\n")}).status_code == 403
    assert not Product.objects.exists()


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
