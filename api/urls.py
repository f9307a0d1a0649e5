"""/api/v1/: the operations (token-only, each call logged), the OpenAPI schema and its browsable
docs (for signed-in people: a schema holds no customer data, but nothing here is public)."""

from django.urls import URLPattern

from .api import api
from .auth import audited

OPERATIONS = {"customers", "tier_changes", "follow_ups", "promotions", "promotion_targets"}


def _urls():
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern) and pattern.name in OPERATIONS:
            pattern.callback = audited(pattern.callback)
    return patterns, app_name, namespace


urls = _urls()
