"""A real deployment (docker-compose): secrets and services come from the environment, DEBUG is off.

Anything a deployment must set is checked here at start-up, so a missing or placeholder value
stops the process with a message naming the variable instead of running on a silent default.
"""

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_str

from .base import *  # noqa: F403
from .base import ALLOWED_HOSTS, REDIS_URL

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("insecure") or SECRET_KEY.startswith("change-me"):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set to a random string of at least 50 characters.")

if env_bool("DJANGO_DEBUG", False):
    raise ImproperlyConfigured("DJANGO_DEBUG=true is refused by production settings; use config.settings.local.")
DEBUG = False

# DATABASE_URL is required by the base settings (only config.settings.local has a default: the
# demo's embedded server). Without REDIS_URL tasks would run inside web requests and the nightly
# beat schedule would never reach a worker.
if REDIS_URL is None:
    raise ImproperlyConfigured("REDIS_URL must be set to redis://host:port/db (the Celery broker).")

# seed_demo makes a staff "admin" whose password is public (printed by the command): never here.
DEMO_DATA_ALLOWED = False

# The container health check calls http://localhost:8000/healthz from inside the web container,
# whatever public host names DJANGO_ALLOWED_HOSTS lists.
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "localhost"]

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the health check speaks plain HTTP inside the container
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 60 * 60 * 24 * 30, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

if not SECURE_HSTS_PRELOAD:
    # Joining the browsers' HSTS preload list is a near-irreversible promise about the whole
    # domain and its subdomains; only the operator can make it (DJANGO_SECURE_HSTS_PRELOAD=true).
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
