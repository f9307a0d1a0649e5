"""Every URL, walked from the resolver: none opens without a sign-in, none takes a POST without a CSRF token."""

import json
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from tests.core.every_url import every_url

# The only URLs anyone may open without signing in. Static files (/static/…, served by whitenoise
# before any URL is resolved) are public too: CSS, JavaScript and icons, nothing about customers.
PUBLIC = {"login", "healthz", "admin:login"}
URLS = every_url()
# The API's operations answer machine clients with a bearer token, never a session: no sign-in
# redirect (401 instead), and no CSRF check (a token in a header is not sent by a browser on its own;
# they take GET only). tests/api/test_tokens.py holds each to its token and scope.
TOKEN_ONLY = {"api:customers", "api:tier_changes", "api:follow_ups", "api:promotions", "api:promotion_targets"}


def by_name(urls):
    return [pytest.param(url, id=url.name) for url in urls]


@pytest.mark.django_db
@pytest.mark.parametrize("url", by_name(u for u in URLS if u.name not in PUBLIC | TOKEN_ONLY))
def test_no_url_opens_without_signing_in(client, url):
    response = client.get(url.path)
    assert response.status_code == 302, f"{url.path} answered {response.status_code} to an anonymous visitor"
    landing = urlsplit(response["Location"]).path
    if url.in_admin:
        assert landing in {reverse("admin:login"), reverse("login")}
    else:
        assert landing == reverse("login")


def test_the_public_urls_are_still_there():
    assert PUBLIC <= {url.name for url in URLS}


def test_every_api_operation_is_token_only():
    """A new operation under /api/ must be listed above (and so get its token tests), or be a page."""
    api_urls = {url.name for url in URLS if url.path.startswith("/api/")}
    assert api_urls - TOKEN_ONLY == {"api:openapi-json", "api:openapi-view", "api:api-root"}


@pytest.mark.django_db
@pytest.mark.parametrize("url", by_name(u for u in URLS if u.name in TOKEN_ONLY))
def test_no_api_operation_opens_without_a_token_or_takes_a_post(client, make_user, url):
    assert client.get(url.path).status_code == 401
    client.force_login(make_user(is_staff=True, is_superuser=True))
    assert client.get(url.path).status_code == 401
    assert client.post(url.path, {"anything": "1"}).status_code == 405


@pytest.fixture
def csrf_checked_client():
    """A browser's view of CSRF: checks enforced, a CSRF cookie held (anyone gets one), but no token sent."""
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("login"))
    assert "csrftoken" in client.cookies
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "superuser"])
def test_no_url_accepts_a_post_without_a_csrf_token(csrf_checked_client, make_user, signed_in):
    if signed_in:
        csrf_checked_client.force_login(make_user(is_staff=True, is_superuser=True))
    accepted = {}
    for url in (u for u in URLS if u.name not in TOKEN_ONLY):
        response = csrf_checked_client.post(url.path, {"anything": "1"})
        if response.status_code != 403 or b"CSRF" not in response.content:
            accepted[url.path] = response.status_code
    assert accepted == {}


@pytest.mark.django_db
def test_the_health_check_says_ok_and_nothing_else(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}
    assert not {"Server", "X-Powered-By"} & set(response.headers)


@pytest.mark.django_db
def test_the_health_check_takes_no_other_method(client):
    assert client.post(reverse("healthz")).status_code == 405
