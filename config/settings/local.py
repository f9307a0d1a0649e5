"""Development on a laptop and the demo: DEBUG on by default, eager tasks with no REDIS_URL, and with
no DATABASE_URL the demo's embedded PostgreSQL in var/postgres (config.embedded_pg; `make demo` starts
it, or `python -m config.embedded_pg start`)."""

import os

from config import embedded_pg
from config.env import env_bool

if not os.environ.get("DATABASE_URL", "").strip():
    os.environ["DATABASE_URL"] = embedded_pg.database_url()

from .base import *  # noqa: E402, F403

DEBUG = env_bool("DJANGO_DEBUG", True)
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"  # mail to admins is printed
