"""Tokens open the API, nothing else does: no token, an unknown or revoked one 401, the wrong scope
403, too many calls 429; every call with a known token is logged, and its last use recorded."""

import hashlib
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from api.models import ApiCall, ApiToken
from api.scopes import SCOPES

ENDPOINTS = [
    ("/api/v1/customers", "read:customers"),
    ("/api/v1/tier-changes", "read:changes"),
    ("/api/v1/follow-ups", "read:followups"),
    ("/api/v1/promotions", "read:targets"),
    ("/api/v1/promotions/{promotion}/targets", "read:targets"),
]
pytestmark = pytest.mark.django_db


def endpoint_cases():
    return [pytest.param(path, scope, id=path) for path, scope in ENDPOINTS]


def path_for(path: str, api_data) -> str:
    return path.format(promotion=api_data["promotion"].pk)


@pytest.mark.parametrize(("path", "scope"), endpoint_cases())
def test_every_endpoint_answers_its_scope(api_get, make_token, api_data, path, scope):
    assert api_get(path_for(path, api_data), make_token(scope)).status_code == 200


@pytest.mark.parametrize(("path", "scope"), endpoint_cases())
def test_every_endpoint_refuses_a_call_without_a_token(api_get, api_data, path, scope):
    response = api_get(path_for(path, api_data))
    assert response.status_code == 401
    assert "items" not in response.json()


@pytest.mark.parametrize(("path", "scope"), endpoint_cases())
@pytest.mark.parametrize("token", ["tb_12345678_not-a-real-secret", "Basic abc", "tb_"])
def test_every_endpoint_refuses_an_unknown_token(api_get, api_data, path, scope, token):
    assert api_get(path_for(path, api_data), token).status_code == 401


@pytest.mark.parametrize(("path", "scope"), endpoint_cases())
def test_every_endpoint_refuses_a_revoked_token(api_get, make_token, api_data, path, scope):
    secret = make_token(scope)
    call_command("api_token", "revoke", ApiToken.objects.get().prefix, stdout=io.StringIO())
    assert api_get(path_for(path, api_data), secret).status_code == 401


@pytest.mark.parametrize(("path", "scope"), endpoint_cases())
def test_every_endpoint_refuses_a_token_without_its_scope(api_get, make_token, api_data, path, scope):
    others = [other for other in SCOPES if other != scope]
    response = api_get(path_for(path, api_data), make_token(*others))
    assert response.status_code == 403
    assert scope in response.json()["detail"]


@pytest.mark.parametrize(("path", "scope"), endpoint_cases())
def test_a_signed_in_session_does_not_open_the_api(client, make_user, api_data, path, scope):
    client.force_login(make_user(is_staff=True, is_superuser=True))
    assert client.get(path_for(path, api_data)).status_code == 401


def test_every_call_with_a_known_token_is_logged_with_its_answer(api_get, make_token, api_data):
    good, narrow = make_token("read:customers"), make_token("read:changes", name="Support tool")
    api_get("/api/v1/customers", good, tier=3)
    api_get("/api/v1/customers", narrow)
    api_get("/api/v1/customers")  # no token: nobody to name
    calls = list(ApiCall.objects.order_by("id").values_list("token__name", "path", "query", "status", "row_count"))
    assert calls == [
        ("CRM sync", "/api/v1/customers", {"tier": ["3"]}, 200, 2),
        ("Support tool", "/api/v1/customers", {}, 403, None),
    ]


def test_the_last_use_of_a_token_is_recorded(api_get, make_token, api_data):
    secret = make_token("read:customers")
    assert ApiToken.objects.get().last_used_at is None
    api_get("/api/v1/customers", secret)
    assert ApiToken.objects.get().last_used_at is not None


def test_a_token_over_its_limit_is_told_when_to_come_back(api_get, make_token, api_data):
    secret = make_token("read:customers", rate_limit_per_minute=3)
    answers = [api_get("/api/v1/customers", secret) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    if answers[3].status_code == 200:  # the minute turned between the calls: the fourth opened a new window
        answers.append(api_get("/api/v1/customers", secret))
        answers.append(api_get("/api/v1/customers", secret))
        answers.append(api_get("/api/v1/customers", secret))
    refused = answers[-1]
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert ApiCall.objects.filter(status=429).count() >= 1


def test_only_a_hash_of_the_secret_is_stored(make_token):
    secret = make_token()
    token = ApiToken.objects.get()
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = " ".join(str(value) for value in ApiToken.objects.values().get().values())
    assert secret not in stored
    assert secret.startswith(f"tb_{token.prefix}_")


def test_the_command_prints_a_new_secret_once_and_lists_tokens_without_it(api_get, api_data):
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", "create", "--name", "Mail tool", "--scopes", "read:targets", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    assert api_get("/api/v1/promotions", secret).status_code == 200
    listing = io.StringIO()
    call_command("api_token", "list", stdout=listing)
    assert "Mail tool" in listing.getvalue() and secret not in listing.getvalue()


def test_the_command_refuses_an_unknown_scope_and_creates_nothing():
    with pytest.raises(CommandError, match="read:everything"):
        call_command("api_token", "create", "--name", "X", "--scopes", "read:everything", stdout=io.StringIO())
    assert not ApiToken.objects.exists()


def test_an_admin_sees_a_new_tokens_secret_once_in_the_admin(client, make_user, api_get, api_data):
    client.force_login(make_user(role="Admin", is_staff=True))
    page = client.post(
        "/admin/api/apitoken/add/", {"name": "CRM", "scopes": ["read:customers"], "rate_limit_per_minute": ""}
    )
    assert page.status_code == 200
    token = ApiToken.objects.get()
    secret = page.context["secret"]
    assert secret in page.content.decode() and token.created_by is not None
    assert api_get("/api/v1/customers", secret).status_code == 200
    assert secret not in client.get(f"/admin/api/apitoken/{token.pk}/change/").content.decode()


def test_an_admin_revokes_a_token_from_the_admin(client, make_user, make_token, api_get, api_data):
    secret = make_token("read:customers")
    client.force_login(make_user(role="Admin", is_staff=True))
    client.post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [ApiToken.objects.get().pk]})
    assert ApiToken.objects.get().revoked_at is not None
    assert api_get("/api/v1/customers", secret).status_code == 401


def test_other_roles_cannot_manage_tokens(client, make_user):
    client.force_login(make_user(role="Account manager", is_staff=True))
    assert client.get("/admin/api/apitoken/add/").status_code == 403
