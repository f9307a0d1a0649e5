import importlib

import pytest


@pytest.fixture(autouse=True)
def roles_and_policies(request):
    """Transactional tests (live server, re-tier atomicity) flush the database when they end, data
    migrations included, and --reuse-db keeps it that way for the next session: put the roles
    and the default policies back as the migrations create them, when they are missing."""
    if not request.node.get_closest_marker("django_db"):
        yield
        return
    request.getfixturevalue("transactional_db" if _is_transactional(request) else "db")
    from django.apps import apps
    from django.contrib.auth.models import Group

    if not Group.objects.filter(name="Account manager").exists():
        importlib.import_module("core.migrations.0001_roles").create_roles(apps, None)
        importlib.import_module("churn.migrations.0002_defaults_and_roles").create_defaults(apps, None)
        importlib.import_module("churn.migrations.0003_release").grant(apps, None)
        importlib.import_module("churn.migrations.0006_team_lead_permission_and_group").grant(apps, None)
    yield


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return bool(marker.kwargs.get("transaction") or (marker.args and marker.args[0]))
