"""Settings shared by every deployment. What varies comes from the environment (config.env)."""

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_choice,
    env_database,
    env_int,
    env_list,
    env_networks,
    env_redis_url,
    env_site_url,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "insecure-development-key-do-not-use-in-production")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",  # OpClass in index expressions (the customers search index)
    "django_tables2",
    "django_filters",
    "django_celery_beat",
    "simple_history",
    "template_partials",
    "django_htmx",
    "axes",
    "core",
    "customers",
    "tiering",
    "dashboard",
    "promotions",
    "churn",
    "ninja",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.UploadGateMiddleware",  # before CSRF's view hook reads a multipart body
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: turns a lockout into its page
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.navigation",
                "churn.context_processors.open_items",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL")}  # local and test fill in a default first
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes checks every sign-in (the site's and the admin's) before the password is tried.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
TIERBOARD_CURRENCY_SYMBOL = env_str("TIERBOARD_CURRENCY_SYMBOL", "€")  # money on every page, the admin included
FORMAT_MODULE_PATH = ["config.formats"]  # one date format everywhere (config/formats/en/formats.py)
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Login throttling (django-axes): after DJANGO_LOGIN_FAILURE_LIMIT failed sign-ins, an account is
# locked, and so is the address they came from, each on its own, for DJANGO_LOGIN_COOLOFF_MINUTES
# after the last failure. Admins unlock early in the Django admin (Axes → Access attempts) or with
# `manage.py axes_reset_username NAME`. docs/security.md explains the choices.
AXES_FAILURE_LIMIT = env_int("DJANGO_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("DJANGO_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "core.views.locked_out"
AXES_CLIENT_IP_CALLABLE = "core.client_ip.client_ip_address"
# Proxies in front of Django that append to X-Forwarded-For (a TLS proxy, a load balancer): how many
# (hops peeled off the right of the header), and the addresses or networks the nearest one connects
# from. The header is believed only on a connection from TRUSTED_PROXIES: anyone can write it, so a
# client reaching gunicorn directly cannot use it to escape or aim a lockout. With 0 it is ignored.
TRUSTED_PROXY_COUNT = env_int("DJANGO_TRUSTED_PROXY_COUNT", 0, minimum=0)
TRUSTED_PROXIES = env_networks("DJANGO_TRUSTED_PROXIES")
if TRUSTED_PROXY_COUNT and not TRUSTED_PROXIES:
    raise ImproperlyConfigured(
        "DJANGO_TRUSTED_PROXY_COUNT is set but DJANGO_TRUSTED_PROXIES is empty: name the addresses or "
        "networks the proxy connects from (comma-separated, e.g. 172.16.0.0/12), or X-Forwarded-For is never believed."
    )

# `manage.py seed_demo` (demo accounts with public passwords); production settings turn it off.
DEMO_DATA_ALLOWED = True

DJANGO_TABLES2_TEMPLATE = "core/table.html"

# Request bodies: form fields (everything but files) are refused above 5 MB; uploaded files
# above 5 MB go to a temporary file instead of memory. Only the URLs below take files at all, and
# only from a signed-in user with the permission named (core.middleware.UploadGateMiddleware);
# the reverse proxy caps whole bodies (client_max_body_size, docs/security.md).
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
UPLOAD_PERMISSIONS = {"customers:import": "customers.import_data"}
# Largest CSV accepted through the upload page; bigger files go through `manage.py import_data`.
IMPORT_UPLOAD_MAX_BYTES = env_int("IMPORT_UPLOAD_MAX_BYTES", 200 * 1024 * 1024, minimum=1)
# Uploaded files wait here for the import worker (web and worker share it: a volume in docker-compose);
# each is deleted once imported, the list of every error of a rejected file stays beside them.
IMPORT_DIR = BASE_DIR / "var" / "imports"

# Celery: with REDIS_URL a real broker; without it, tasks run eagerly in-process.
REDIS_URL = env_redis_url("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True  # a worker started before Redis waits for it
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# A message whose worker died unacknowledged goes back to the queue after this many seconds; it
# must exceed the re-tier's hard time limit, or a long run is handed to a second worker meanwhile
# (that copy then does nothing: tiering.runs). The sweep for such messages runs every 10 s.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1),
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
# The nightly schedule is a PeriodicTask row (tiering migration 0004), edited in the admin.

LOG_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_choice("LOG_LEVEL", "INFO", LOG_LEVELS)},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Re-tier: customers per metrics range (one INSERT … SELECT each) and the Celery time limits (s).
RETIER_RANGE_SIZE = env_int("RETIER_RANGE_SIZE", 250_000, minimum=1)
RETIER_PARALLEL = env_int("RETIER_PARALLEL", 2, minimum=1)  # ranges computed at once (PostgreSQL)
# Hand the ranges to Celery workers (several machines) instead of this process's threads.
RETIER_ON_WORKERS = env_bool("RETIER_ON_WORKERS", False)
# Recompute only the customers whose metrics can have changed since the last run (PostgreSQL).
RETIER_INCREMENTAL = env_bool("RETIER_INCREMENTAL", True)
# After a run commits, queue churn's follow-up work: risk scoring and the suspects analysis.
# The benchmark turns it off to time the re-tier alone (with no broker the tasks run in-process).
RETIER_FOLLOW_UP_TASKS = env_bool("RETIER_FOLLOW_UP_TASKS", True)
# The first real run over loaded history (no tier history yet) first replays the tiers at this many
# month ends before its date (tiering.retier.backfill; docs/backfill.md). 0: no backfill on its own.
RETIER_BACKFILL_MONTHS = env_int("RETIER_BACKFILL_MONTHS", 24, minimum=0)
# above this many customers a first run's backfill is queued as its own task after the run
RETIER_BACKFILL_INLINE_MAX_CUSTOMERS = env_int("RETIER_BACKFILL_INLINE_MAX_CUSTOMERS", 100_000, minimum=0)
RETIER_SOFT_TIME_LIMIT = 45 * 60
RETIER_HARD_TIME_LIMIT = 50 * 60
# A running re-tier writes a heartbeat this often (s); a run silent for RETIER_HEARTBEAT_TIMEOUT is
# marked interrupted by the check beat runs every minute. A re-tier task delivered more than
# RETIER_MAX_DELIVERIES times (each delivery's worker died) is given up and its run failed.
RETIER_HEARTBEAT_SECONDS = env_int("RETIER_HEARTBEAT_SECONDS", 10, minimum=1)
RETIER_HEARTBEAT_TIMEOUT = env_int("RETIER_HEARTBEAT_TIMEOUT", 90, minimum=1)
RETIER_MAX_DELIVERIES = env_int("RETIER_MAX_DELIVERIES", 3, minimum=1)

# Mail to the admins (an interrupted run). Tests use Django's in-memory outbox; local: the console.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)  # s: a hanging SMTP server must not hang the Runs page
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "tierboard@localhost")
# Where people open the dashboard: the links in emails (the daily follow-up digest) start here.
TIERBOARD_URL = env_site_url("TIERBOARD_URL", "http://127.0.0.1:8000")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# The API (docs/api.md): calls a minute per token, counted in Redis (API_RATE_LIMIT_REDIS_URL, else
# REDIS_URL; with neither, in each process's memory). Webhooks: items per delivery, attempts before a
# delivery is given up (back-off doubling from WEBHOOK_RETRY_SECONDS), and failed attempts in a row
# after which an endpoint is paused and the admins are told.
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600, minimum=1)
API_RATE_LIMIT_REDIS_URL = env_redis_url("API_RATE_LIMIT_REDIS_URL") or REDIS_URL
WEBHOOK_BATCH_SIZE = env_int("WEBHOOK_BATCH_SIZE", 500, minimum=1)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6, minimum=1)
WEBHOOK_RETRY_SECONDS = env_int("WEBHOOK_RETRY_SECONDS", 30, minimum=1)
WEBHOOK_PAUSE_AFTER = env_int("WEBHOOK_PAUSE_AFTER", 15, minimum=1)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
