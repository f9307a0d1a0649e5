"""docker-compose.yml cannot be started here (no Docker engine), so check what it names exists.

Each service's command must point at modules, apps and settings that this checkout really has,
and the example env file must carry every variable the production settings read.
"""

import importlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from celery.beat import Scheduler
from django.urls import resolve
from django.utils.module_loading import import_string

BASE_DIR = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("web", "worker", "beat")
ENV_EXAMPLE = (BASE_DIR / ".env.example").read_text()


def command_of(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def option(argv: list[str], *names: str) -> str:
    for i, arg in enumerate(argv):
        if arg in names:
            return argv[i + 1]
        for name in names:
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    raise AssertionError(f"none of {names} in {argv}")


def env_example() -> dict[str, str]:
    """The variables .env.example sets (uncommented lines)."""
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.splitlines() if "=" in line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def variables_read_by_settings() -> set[str]:
    """Every environment variable base.py and production.py read through config.env."""
    sources = [(BASE_DIR / "config" / "settings" / f"{name}.py").read_text() for name in ("base", "production")]
    return set(re.findall(r"\benv_\w+\(\s*\"([A-Z][A-Z0-9_]*)\"", "\n".join(sources)))


def test_the_stack_has_web_worker_beat_db_and_redis():
    assert set(SERVICES) >= {"web", "worker", "beat", "db", "redis"}


def test_web_worker_and_beat_run_one_image_built_from_the_dockerfile():
    builds = {yaml.safe_dump(SERVICES[name]["build"]) for name in APP_SERVICES}
    images = {SERVICES[name]["image"] for name in APP_SERVICES}
    assert len(builds) == 1 and len(images) == 1
    build = SERVICES["web"]["build"]
    assert (BASE_DIR / build["context"] / build.get("dockerfile", "Dockerfile")).is_file()
    assert len({" ".join(command_of(name)) for name in APP_SERVICES}) == 3, "each service runs its own command"


def test_the_app_services_read_dot_env_and_run_the_production_settings():
    for name in APP_SERVICES:
        assert SERVICES[name]["env_file"] in (".env", [".env"])
        assert SERVICES[name]["environment"]["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert importlib.util.find_spec("config.settings.production") is not None


def test_web_serves_the_wsgi_application_with_gunicorn():
    argv = command_of("web")
    assert argv[0] == "gunicorn"
    module, attribute = argv[1].split(":")
    application = getattr(importlib.import_module(module), attribute)
    assert callable(application)


@pytest.mark.parametrize(("service", "subcommand"), [("worker", "worker"), ("beat", "beat")])
def test_worker_and_beat_name_the_projects_celery_app(service, subcommand):
    argv = command_of(service)
    assert argv[0] == "celery" and subcommand in argv
    app = find_app(option(argv, "-A", "--app"))
    assert isinstance(app, Celery) and app.main == "tierboard"


def test_beat_keeps_its_schedule_in_the_database():
    scheduler_path = option(command_of("beat"), "-S", "--scheduler")
    assert scheduler_path == "django_celery_beat.schedulers:DatabaseScheduler"
    assert issubclass(import_string(scheduler_path.replace(":", ".")), Scheduler)


def test_migrations_run_once_before_web_worker_and_beat_start():
    assert command_of("migrate")[:3] == ["python", "manage.py", "migrate"]
    assert SERVICES["migrate"]["image"] == SERVICES["web"]["image"]
    for name in APP_SERVICES:
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("service", ["web", "worker", "db", "redis"])
def test_long_running_services_have_health_checks(service):
    assert SERVICES[service]["healthcheck"]["test"]


def test_the_web_health_check_calls_the_healthz_view():
    probe = " ".join(SERVICES["web"]["healthcheck"]["test"])
    path = re.search(r"http://localhost:8000(/\S*?)['\"]", probe).group(1)
    assert resolve(path).url_name == "healthz"


def test_the_database_keeps_its_data_in_a_volume():
    volume = SERVICES["db"]["volumes"][0].split(":")[0]
    assert volume in COMPOSE["volumes"]


def test_web_and_worker_share_the_directory_where_uploaded_imports_wait():
    assert "imports:/app/var/imports" in SERVICES["web"]["volumes"]
    assert "imports:/app/var/imports" in SERVICES["worker"]["volumes"]
    assert "imports" in COMPOSE["volumes"]


def test_the_env_example_documents_every_variable_the_settings_read():
    undocumented = {name for name in variables_read_by_settings() if not re.search(rf"^#? ?{name}=", ENV_EXAMPLE, re.M)}
    assert not undocumented, f"add to .env.example: {sorted(undocumented)}"


def test_the_env_example_sets_what_production_requires_and_what_postgres_needs():
    assert {
        "DJANGO_SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "POSTGRES_DB",
    } <= set(env_example())


def test_the_env_example_starts_production_once_its_secret_key_is_replaced():
    env = {**env_example(), "DJANGO_SECRET_KEY": "k" * 64, "DJANGO_SETTINGS_MODULE": "config.settings.production"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_the_env_example_secret_key_is_a_placeholder_production_refuses():
    env = {**env_example(), "DJANGO_SETTINGS_MODULE": "config.settings.production"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_gunicorn_is_published_on_the_loopback_only_for_the_reverse_proxy_in_front():
    # On every interface, anyone could reach gunicorn past the proxy (docs/security.md).
    assert SERVICES["web"]["ports"] == ["127.0.0.1:8000:8000"]
    assert all("ports" not in SERVICES[name] for name in SERVICES if name != "web")
