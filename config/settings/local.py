"""Development on a laptop: DEBUG on by default, SQLite and eager tasks unless the env says otherwise."""

from config.env import env_bool

from .base import *  # noqa: F403

DEBUG = env_bool("DJANGO_DEBUG", True)
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"  # mail to admins is printed
