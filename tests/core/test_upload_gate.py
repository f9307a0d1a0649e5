"""Uploads from anyone who may not import are refused before the server reads (or stores) the file."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.test import Client
from django.urls import reverse

from customers.models import ImportJob, Product

pytestmark = pytest.mark.django_db
URL = reverse("customers:import")
RECEIVED: list[int] = []  # bytes of uploaded files that reached an upload handler


class CountingUploadHandler(FileUploadHandler):
    """Stands in front of Django's handlers and notes every chunk of a file that was read."""

    def receive_data_chunk(self, raw_data, start):
        RECEIVED.append(len(raw_data))
        return raw_data

    def file_complete(self, file_size):
        return None


@pytest.fixture(autouse=True)
def counted_uploads(settings):
    RECEIVED.clear()
    settings.FILE_UPLOAD_HANDLERS = [
        "tests.core.test_upload_gate.CountingUploadHandler",
        "django.core.files.uploadhandler.TemporaryFileUploadHandler",
    ]


@pytest.fixture
def real_client():
    """Checks CSRF like a browser's requests are checked, and holds a CSRF cookie as anyone can get one."""
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("login"))
    return client


def post_file(client, url=URL, follow=False):
    big = SimpleUploadedFile("products.csv", b"sku,name,category\n" + b"A1,Apple,fruit\n" * 100_000)
    token = client.cookies["csrftoken"].value
    return client.post(url, {"csrfmiddlewaretoken": token, "kind": "products", "file": big}, follow=follow)


def test_an_anonymous_upload_is_sent_to_sign_in_without_the_file_being_read(real_client):
    response = post_file(real_client)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={URL}"
    assert RECEIVED == []


def test_an_anonymous_upload_to_the_sign_in_page_is_not_read_either(real_client):
    response = post_file(real_client, url=reverse("login"))
    assert response.status_code == 200  # the sign-in form again: no username, no password
    assert RECEIVED == []


def test_a_sign_in_form_sent_as_multipart_still_signs_in(real_client, make_user):
    make_user(username="ada")
    token = real_client.cookies["csrftoken"].value
    response = real_client.post(reverse("login"), {"csrfmiddlewaretoken": token, "username": "ada", "password": "pw"})
    assert response.status_code == 302


@pytest.mark.parametrize("role", ["Account manager", "Marketing"])
def test_a_signed_in_user_without_the_import_permission_is_refused_unread(real_client, make_user, role):
    real_client.force_login(make_user(role=role))
    real_client.get(reverse("login"))  # a fresh CSRF cookie for the signed-in session
    response = post_file(real_client)
    assert response.status_code == 403
    assert RECEIVED == []


def test_a_file_sent_to_a_page_that_takes_none_is_never_read_even_from_an_admin(real_client, make_user):
    real_client.force_login(make_user(role="Admin", is_staff=True))
    real_client.get(reverse("login"))
    response = post_file(real_client, url=reverse("tiering:runs"))
    assert response.status_code == 200  # the Runs page, as for any POST
    assert RECEIVED == []


def test_an_admin_upload_is_read_and_imported(real_client, make_user, django_capture_on_commit_callbacks):
    real_client.force_login(make_user(role="Admin"))
    real_client.get(reverse("login"))
    with django_capture_on_commit_callbacks(execute=True):  # the import task, queued on commit
        post_file(real_client)
    response = real_client.get(reverse("customers:import_job", args=[ImportJob.objects.get().pk]))
    assert response.status_code == 200
    assert sum(RECEIVED) > 1_000_000
    assert "Nothing was imported" in response.content.decode()  # 100,000 copies of one key
    assert not Product.objects.exists()
