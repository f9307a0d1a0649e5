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
