import pytest


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path):
    """Uploaded files and error lists wait in a directory of the test's own, never in var/."""
    settings.IMPORT_DIR = tmp_path / "imports"
    return settings.IMPORT_DIR


@pytest.fixture
def make_user(db):
    from tests.factories import UserFactory

    def make(role=None, **kwargs):
        return UserFactory(role=role, **kwargs)

    return make


@pytest.fixture
def broker_down():
    """The Celery app publishing to a real Redis URL on a closed local port (nothing listens on 1)."""
    from config.celery import app

    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url="redis://127.0.0.1:1/0", task_always_eager=False)
    yield
    app.conf.update(saved)
