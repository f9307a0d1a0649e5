"""Guessing passwords: an account, and an address, are locked after a few failures, on both sign-in pages."""

import datetime as dt
import ipaddress

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

SITE_LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
ATTACKER = "198.51.100.66"
PROXY = "10.0.0.2"
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def sign_in(client, url, username, password, **headers):
    return client.post(url, {"username": username, "password": password, "next": "/"}, **headers)


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def ada(make_user):
    # Staff, so that she could sign in to the Django admin as well.
    return make_user(username="ada", role="Admin", is_staff=True)


@pytest.mark.django_db
@pytest.mark.parametrize("url", [SITE_LOGIN, ADMIN_LOGIN])
def test_fifty_wrong_passwords_then_the_right_one_is_refused(client, ada, url):
    for _ in range(50):
        sign_in(client, url, "ada", "wrong")
    response = sign_in(client, url, "ada", "pw")
    assert response.status_code == 429
    assert "Sign-in is paused" in response.content.decode()
    assert not is_signed_in(client)


@pytest.mark.django_db
def test_the_account_is_locked_from_any_address(client, ada):
    for number in range(5):
        sign_in(client, SITE_LOGIN, "ada", "wrong", REMOTE_ADDR=f"203.0.113.{number}")
    response = sign_in(client, SITE_LOGIN, "ada", "pw", REMOTE_ADDR="192.0.2.10")
    assert response.status_code == 429
    assert not is_signed_in(client)


@pytest.mark.django_db
def test_the_address_is_locked_for_every_account(client, ada):
    # A different made-up account each time, so that only the address can be what is locked.
    for number in range(5):
        sign_in(client, SITE_LOGIN, f"guess{number}", "wrong", REMOTE_ADDR=ATTACKER)
    assert sign_in(client, SITE_LOGIN, "ada", "pw", REMOTE_ADDR=ATTACKER).status_code == 429
    assert sign_in(client, SITE_LOGIN, "ada", "pw", REMOTE_ADDR="192.0.2.10").status_code == 302


@pytest.mark.django_db
def test_a_made_up_x_forwarded_for_does_not_escape_the_lock(client, ada):
    for number in range(50):
        forged = {"REMOTE_ADDR": ATTACKER, "HTTP_X_FORWARDED_FOR": f"203.0.113.{number}"}
        sign_in(client, SITE_LOGIN, f"guess{number}", "wrong", **forged)
    response = sign_in(client, SITE_LOGIN, "ada", "pw", REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert response.status_code == 429
    assert not is_signed_in(client)


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_forwarded_address_is_locked_and_no_one_else(client, ada, settings):
    settings.TRUSTED_PROXY_COUNT, settings.TRUSTED_PROXIES = 1, (ipaddress.ip_network(PROXY),)
    for number in range(5):
        # The client may prepend anything; the proxy appends the address it really saw.
        via_proxy = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": f"203.0.113.{number}, {ATTACKER}"}
        sign_in(client, SITE_LOGIN, f"guess{number}", "wrong", **via_proxy)
    attacker = sign_in(client, SITE_LOGIN, "ada", "pw", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=ATTACKER)
    assert attacker.status_code == 429
    colleague = sign_in(client, SITE_LOGIN, "ada", "pw", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="192.0.2.10")
    assert colleague.status_code == 302
    assert is_signed_in(client)


@pytest.mark.django_db
def test_a_client_reaching_gunicorn_past_the_proxy_cannot_escape_the_lock_with_x_forwarded_for(client, ada, settings):
    settings.TRUSTED_PROXY_COUNT, settings.TRUSTED_PROXIES = 1, (ipaddress.ip_network("10.0.0.0/8"),)
    for number in range(50):
        forged = {"REMOTE_ADDR": ATTACKER, "HTTP_X_FORWARDED_FOR": f"203.0.113.{number}"}
        sign_in(client, SITE_LOGIN, f"guess{number}", "wrong", **forged)
    response = sign_in(client, SITE_LOGIN, "ada", "pw", REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert response.status_code == 429
    assert not is_signed_in(client)


@pytest.mark.django_db
def test_a_client_reaching_gunicorn_past_the_proxy_cannot_lock_out_someone_else_s_address(client, ada, settings):
    settings.TRUSTED_PROXY_COUNT, settings.TRUSTED_PROXIES = 1, (ipaddress.ip_network("10.0.0.0/8"),)
    colleague = "192.0.2.10"
    for number in range(50):
        aimed = {"REMOTE_ADDR": ATTACKER, "HTTP_X_FORWARDED_FOR": colleague}
        sign_in(client, SITE_LOGIN, f"guess{number}", "wrong", **aimed)
    via_proxy = sign_in(client, SITE_LOGIN, "ada", "pw", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR=colleague)
    assert via_proxy.status_code == 302
    assert is_signed_in(client)


@pytest.mark.django_db
def test_the_lock_ends_when_the_cool_off_has_passed_since_the_last_attempt(client, ada):
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(5):
            sign_in(client, SITE_LOGIN, "ada", "wrong")
        traveller.shift(dt.timedelta(minutes=14))
        assert sign_in(client, SITE_LOGIN, "ada", "pw").status_code == 429
        # That attempt, too, started the 15 minutes again.
        traveller.shift(dt.timedelta(minutes=14))
        assert sign_in(client, SITE_LOGIN, "ada", "pw").status_code == 429
        traveller.shift(dt.timedelta(minutes=16))
        assert sign_in(client, SITE_LOGIN, "ada", "pw").status_code == 302
        assert is_signed_in(client)


@pytest.mark.django_db
def test_the_locked_out_page_says_when_to_retry_and_whom_to_ask(client, ada):
    with time_machine.travel(START, tick=False):
        for _ in range(6):
            response = sign_in(client, SITE_LOGIN, "ada", "wrong")
    html = response.content.decode()
    assert "Try again in 15 minutes, after" in html
    assert "09:15 (UTC)" in html
    assert "Ask a Tierboard admin" in html
    assert response["Retry-After"] == "900"
    assert "tierboard.css" in html  # the site's own layout, not a bare text answer


@pytest.mark.django_db
def test_a_few_failures_below_the_limit_do_not_lock(client, ada):
    for _ in range(4):
        sign_in(client, SITE_LOGIN, "ada", "wrong")
    assert sign_in(client, SITE_LOGIN, "ada", "pw").status_code == 302


def test_the_login_url_names_the_site_login_page():
    assert reverse("login") == SITE_LOGIN
    assert reverse("admin:login") == ADMIN_LOGIN


@pytest.mark.django_db
def test_an_admin_unlocks_an_account_early_in_the_django_admin(client, ada, make_user):
    from axes.models import AccessAttempt

    for _ in range(5):
        sign_in(client, SITE_LOGIN, "ada", "wrong")
    admin = Client()
    admin.force_login(make_user(role="Admin", is_staff=True))
    attempts = admin.get(reverse("admin:axes_accessattempt_changelist"))
    assert attempts.status_code == 200 and "ada" in attempts.content.decode()
    attempt = AccessAttempt.objects.get(username="ada")
    admin.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert sign_in(client, SITE_LOGIN, "ada", "pw").status_code == 302
