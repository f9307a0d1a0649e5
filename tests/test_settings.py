"""Settings come from the environment, parsed strictly: a bad value stops start-up naming the variable."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_database, env_int, env_list, env_redis_url

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET = "x" * 20 + "-a-throwaway-key-only-these-tests-ever-use-0123456789"
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": SECRET,
    "DATABASE_URL": "postgres://tierboard:pw@db.internal:5432/tierboard",
    "REDIS_URL": "redis://redis.internal:6379/0",
}


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without any Tierboard setting, plus `extra`."""
    ours = ("DJANGO_", "DATABASE_URL", "REDIS_URL", "LOG_LEVEL", "TIME_ZONE", "IMPORT_UPLOAD_MAX_BYTES")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return {**environ, **extra}


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=clean_environ(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_seen_at_startup(**env: str) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "db = s.DATABASES['default']; "
        "print(json.dumps({'engine': db['ENGINE'], 'name': db['NAME'], 'host': db['HOST'], 'port': db['PORT'], "
        "'eager': s.CELERY_TASK_ALWAYS_EAGER, 'broker': s.CELERY_BROKER_URL, 'debug': s.DEBUG}))"
    )
    result = run_python(code, DJANGO_SETTINGS_MODULE="config.settings.local", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


class TestDatabaseUrl:
    def test_no_database_url_is_refused_naming_the_variable(self):
        with pytest.raises(ImproperlyConfigured, match=r"^DATABASE_URL must be set to a postgres://"):
            env_database("DATABASE_URL", environ={})
        with pytest.raises(ImproperlyConfigured, match=r"^DATABASE_URL must be set"):
            env_database("DATABASE_URL", environ={"DATABASE_URL": " "})

    def test_a_postgres_url_selects_postgresql(self):
        config = env_database("DATABASE_URL", environ={"DATABASE_URL": "postgres://u:p@h:6543/tb"})
        assert (config["ENGINE"], config["HOST"], config["PORT"], config["NAME"]) == (
            "django.db.backends.postgresql",
            "h",
            6543,
            "tb",
        )

    def test_a_unix_socket_directory_is_written_as_an_encoded_host(self):
        config = env_database("DATABASE_URL", environ={"DATABASE_URL": "postgres://u@%2Fsrv%2Fpg/tb"})
        assert (config["HOST"], config["PORT"], config["NAME"]) == ("/srv/pg", "", "tb")

    @pytest.mark.parametrize(
        ("url", "problem"),
        [
            ("mysql://u@h:3306/tb", "not a database URL we support"),
            ("sqlite:///var/tierboard.sqlite3", "not a database URL we support"),
            ("127.0.0.1:5432/tb", "not a database URL we support"),
            ("postgres://u@h:port/tb", "port"),
            ("postgres://u@h:5432", "names no database"),
        ],
    )
    def test_a_malformed_database_url_is_refused_naming_the_variable(self, url, problem):
        with pytest.raises(ImproperlyConfigured, match=problem) as error:
            env_database("DATABASE_URL", environ={"DATABASE_URL": url})
        assert str(error.value).startswith("DATABASE_URL=")


class TestRedisUrl:
    def test_unset_or_empty_means_no_broker(self):
        assert env_redis_url("REDIS_URL", environ={}) is None
        assert env_redis_url("REDIS_URL", environ={"REDIS_URL": " "}) is None

    def test_a_redis_url_is_kept_as_given(self):
        assert env_redis_url("REDIS_URL", environ={"REDIS_URL": "redis://h:6379/3"}) == "redis://h:6379/3"

    @pytest.mark.parametrize(
        "url", ["http://h:6379/0", "h:6379", "amqp://guest@h//", "redis://h:port/0", "redis://h:6379/tierboard"]
    )
    def test_anything_but_a_redis_url_is_refused_naming_the_variable(self, url):
        with pytest.raises(ImproperlyConfigured, match=r"^REDIS_URL="):
            env_redis_url("REDIS_URL", environ={"REDIS_URL": url})


class TestScalars:
    @pytest.mark.parametrize(
        ("raw", "value"), [("true", True), ("1", True), ("Yes", True), ("off", False), ("0", False)]
    )
    def test_booleans_accept_the_usual_words(self, raw, value):
        assert env_bool("DJANGO_DEBUG", not value, environ={"DJANGO_DEBUG": raw}) is value

    def test_a_boolean_that_is_neither_is_refused_naming_the_variable(self):
        with pytest.raises(ImproperlyConfigured, match=r"^DJANGO_DEBUG='maybe' is not a boolean"):
            env_bool("DJANGO_DEBUG", False, environ={"DJANGO_DEBUG": "maybe"})

    def test_a_number_that_is_not_a_number_is_refused_naming_the_variable(self):
        with pytest.raises(ImproperlyConfigured, match=r"^IMPORT_UPLOAD_MAX_BYTES='5MB' is not a whole number"):
            env_int("IMPORT_UPLOAD_MAX_BYTES", 1, environ={"IMPORT_UPLOAD_MAX_BYTES": "5MB"})

    def test_a_number_below_its_minimum_is_refused(self):
        with pytest.raises(ImproperlyConfigured, match=r"^DJANGO_SECURE_HSTS_SECONDS='-1' must be at least 0"):
            env_int("DJANGO_SECURE_HSTS_SECONDS", 0, minimum=0, environ={"DJANGO_SECURE_HSTS_SECONDS": "-1"})

    def test_unset_numbers_and_lists_take_their_defaults(self):
        assert env_int("IMPORT_UPLOAD_MAX_BYTES", 7, environ={}) == 7
        assert env_list("DJANGO_ALLOWED_HOSTS", ["localhost"], environ={}) == ["localhost"]

    def test_lists_are_comma_separated_and_trimmed(self):
        raw = " a.example.com , b.example.com,,"
        assert env_list("DJANGO_ALLOWED_HOSTS", [], environ={"DJANGO_ALLOWED_HOSTS": raw}) == [
            "a.example.com",
            "b.example.com",
        ]

    def test_a_word_outside_its_set_is_refused_naming_the_variable(self):
        assert env_choice("LOG_LEVEL", "INFO", {"INFO", "DEBUG"}, environ={"LOG_LEVEL": "debug"}) == "DEBUG"
        with pytest.raises(ImproperlyConfigured, match=r"^LOG_LEVEL='LOUD' is not one of: DEBUG, INFO"):
            env_choice("LOG_LEVEL", "INFO", {"INFO", "DEBUG"}, environ={"LOG_LEVEL": "LOUD"})


class TestStartUp:
    """The real settings modules, loaded in a fresh process as manage.py would."""

    def test_with_no_environment_local_uses_the_demos_embedded_postgresql_and_eager_tasks(self):
        seen = settings_seen_at_startup()
        assert (seen["engine"], seen["name"], seen["port"]) == ("django.db.backends.postgresql", "tierboard", "")
        assert seen["host"] == str(BASE_DIR / "var" / "postgres")  # where `make demo`'s server has its socket
        assert seen["eager"] is True

    def test_an_empty_database_url_counts_as_none_in_local(self):
        assert settings_seen_at_startup(DATABASE_URL="")["name"] == "tierboard"

    def test_database_url_and_redis_url_select_postgresql_and_a_real_broker(self):
        seen = settings_seen_at_startup(DATABASE_URL="postgres://u@h:5432/tb", REDIS_URL="redis://h:6379/2")
        assert seen["engine"] == "django.db.backends.postgresql"
        assert (seen["eager"], seen["broker"]) == (False, "redis://h:6379/2")

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("DJANGO_DEBUG", "maybe"),
            ("DATABASE_URL", "postgres://u@h:port/tb"),
            ("REDIS_URL", "http://h"),
            ("DJANGO_LOGIN_FAILURE_LIMIT", "five"),
            ("DJANGO_LOGIN_COOLOFF_MINUTES", "0"),
            ("DJANGO_TRUSTED_PROXY_COUNT", "-1"),
            ("DJANGO_TRUSTED_PROXIES", "10.0.0.1/8"),  # host bits set: a typo, not a network
            ("DJANGO_TRUSTED_PROXIES", "nginx"),
        ],
    )
    def test_a_malformed_value_stops_start_up_with_a_message_naming_it(self, variable, value):
        result = run_python(
            "import django; django.setup()", DJANGO_SETTINGS_MODULE="config.settings.local", **{variable: value}
        )
        assert result.returncode != 0
        assert f"ImproperlyConfigured: {variable}=" in result.stderr

    def test_login_throttling_and_the_trusted_proxies_come_from_the_environment(self):
        code = (
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.AXES_FAILURE_LIMIT, int(s.AXES_COOLOFF_TIME.total_seconds()), s.TRUSTED_PROXY_COUNT, "
            "','.join(map(str, s.TRUSTED_PROXIES)) or '-')"
        )
        default = run_python(code, DJANGO_SETTINGS_MODULE="config.settings.local")
        assert default.stdout.split() == ["5", "900", "0", "-"], default.stderr
        chosen = run_python(
            code,
            DJANGO_SETTINGS_MODULE="config.settings.local",
            DJANGO_LOGIN_FAILURE_LIMIT="3",
            DJANGO_LOGIN_COOLOFF_MINUTES="60",
            DJANGO_TRUSTED_PROXY_COUNT="1",
            DJANGO_TRUSTED_PROXIES=" 172.16.0.0/12, 10.0.0.2 ,::1",
        )
        assert chosen.stdout.split() == ["3", "3600", "1", "172.16.0.0/12,10.0.0.2/32,::1/128"], chosen.stderr

    def test_a_proxy_count_without_trusted_proxies_stops_start_up(self):
        result = run_python(
            "import django; django.setup()",
            DJANGO_SETTINGS_MODULE="config.settings.local",
            DJANGO_TRUSTED_PROXY_COUNT="1",
        )
        assert "DJANGO_TRUSTED_PROXY_COUNT is set but DJANGO_TRUSTED_PROXIES is empty" in result.stderr


class TestProduction:
    def test_production_starts_with_its_required_variables(self):
        result = run_python(
            "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)", **PRODUCTION
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "False"

    @pytest.mark.parametrize("variable", ["DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
    def test_production_refuses_to_start_without_a_required_variable(self, variable):
        env = {k: v for k, v in PRODUCTION.items() if k != variable}
        result = run_python("import django; django.setup()", **env)
        assert result.returncode != 0
        assert f"ImproperlyConfigured: {variable} must be set" in result.stderr

    def test_production_refuses_a_short_secret_key(self):
        result = run_python("import django; django.setup()", **{**PRODUCTION, "DJANGO_SECRET_KEY": "too-short"})
        assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set" in result.stderr

    def test_production_refuses_debug_mode(self):
        result = run_python("import django; django.setup()", **PRODUCTION, DJANGO_DEBUG="true")
        assert "ImproperlyConfigured: DJANGO_DEBUG=true is refused" in result.stderr

    def test_deploy_checks_pass_without_a_single_warning(self):
        result = subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            cwd=BASE_DIR,
            env=clean_environ(**PRODUCTION),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "System check identified no issues" in result.stdout
        assert "WARNING" not in result.stdout + result.stderr

    def test_the_health_check_gets_through_over_plain_http_while_pages_redirect_to_https(self, db, settings):
        # The container's health check calls http://localhost:8000/healthz; it must not get a 301.
        database = settings.DATABASES["default"]
        url = f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        code = (
            "import django; django.setup(); from django.test import Client; c = Client(HTTP_HOST='localhost'); "
            "print(c.get('/healthz').status_code, c.get('/accounts/login/').status_code)"
        )
        result = run_python(code, **{**PRODUCTION, "DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["200", "301"]
