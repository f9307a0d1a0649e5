"""Tests run against the real PostgreSQL on this machine unless DATABASE_URL says otherwise."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tierboard")

from .base import *  # noqa: E402, F403

DEBUG = False
# A first re-tier replays no history unless a test asks (tests/tiering/test_backfill.py): the other
# tests count the history their runs write.
RETIER_BACKFILL_MONTHS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests never run collectstatic: serve static files straight from static/ (and the apps) instead
# of warning about a missing var/staticfiles.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
# A test's uploads wait in its own directory; a Celery worker started by a test is told where.
if os.environ.get("TEST_IMPORT_DIR"):
    IMPORT_DIR = os.environ["TEST_IMPORT_DIR"]
# The API's per-token rate limit counts in the real Redis (keys carry each token's random prefix).
API_RATE_LIMIT_REDIS_URL = os.environ.get("RETIER_TEST_REDIS_URL", "redis://127.0.0.1:6379/10")
