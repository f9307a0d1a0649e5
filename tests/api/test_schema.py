"""The published OpenAPI schema, held to the API: schemathesis generates calls from the schema (valid
and invalid parameters, cursors, ids) and checks every answer against it: no server error, only
documented status codes, bodies that match their schemas."""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def published_schema(client, make_user):
    """The schema as /api/v1/openapi.json publishes it to a signed-in person. Calls go to Django's
    WSGI handler, the whole stack with its middleware; as Django's test client does, it must not
    close the test's database connection at the end of each request."""
    client.force_login(make_user())
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = schemathesis.openapi.from_dict(response.json())
    schema.app = WSGIHandler()
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield schema
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("published_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_matches_the_published_schema(case, api_data):
    _, secret = services.token_create(
        name="schema check", scopes=["read:customers", "read:changes", "read:followups", "read:targets"]
    )
    # A cursor is opaque: any string fits its schema, but only those the API gave are accepted (400).
    excluded = [positive_data_acceptance] if "cursor" in (case.query or {}) else []
    case.call_and_validate(headers={"Authorization": f"Bearer {secret}"}, excluded_checks=excluded)


def test_the_schema_names_every_endpoint_and_its_refusals(client, make_user):
    client.force_login(make_user())
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert set(paths) == {
        "/api/v1/customers",
        "/api/v1/tier-changes",
        "/api/v1/follow-ups",
        "/api/v1/promotions",
        "/api/v1/promotions/{promotion_id}/targets",
    }
    for operations in paths.values():
        assert {"200", "401", "403", "429"} <= set(operations["get"]["responses"])
        assert operations["get"]["security"] == [{"TokenAuth": []}]
