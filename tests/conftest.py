import os

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


@pytest.fixture(scope="module")
def restore_migrated_data(django_db_blocker):
    """After a module of transactional tests, put back what data migrations created (roles, tiers,
    rule set v1, the nightly schedule): the flush after each such test empties every table, and
    with --reuse-db the next session would start without them."""
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        contents = getattr(connection, "_test_serialized_contents", None)
        if contents:
            connection.creation.deserialize_db_from_string(contents)


# --- Browser walks: Debian's Chromium driven by Playwright against the live server ---------------
# Launched by path (never `playwright install`). Playwright's sync API runs an event loop in the
# test's thread, so Django's async-safety check is told it is fine (the ORM is still used from it).
# The modules mark themselves `browser` and `django_db(transaction=True, serialized_rollback=True)`
# (the live server reads committed rows) and use `restore_migrated_data`.

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture
def chromium():
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(live_server, chromium):
    """open_page(width=1366): a new page with its own cookies (one per signed-in person) on the live
    server (page.base_url); a JavaScript error on any of them fails the test."""
    errors: list[str] = []

    def open_(width: int = 1366, height: int = 900):
        page = chromium.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(10_000)
        page.base_url = live_server.url
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        return page

    yield open_
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture
def browser_page(open_page):
    return open_page()


@pytest.fixture
def sign_in():
    """sign_in(page, "ann"): through the sign-in form (every factory user's password is "pw")."""

    def sign(page, username: str, password: str = "pw") -> None:
        page.goto(page.base_url + "/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("main button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)

    return sign
