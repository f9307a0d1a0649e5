# Tierboard. The two commands a new user needs:
#   make demo   a running dashboard with demo data on an embedded PostgreSQL (http://127.0.0.1:8000)
#   make test   everything the tests need (venv, PostgreSQL, Redis, Chromium), then the whole suite
#
# VENV lets an existing virtualenv be reused:  make test VENV=/path/to/venv

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
MANAGE := $(PY) manage.py
PORT ?= 8000
DEMO_PGDATA ?= var/postgres
DEMO_LOG = $(dir $(patsubst %/,%,$(DEMO_PGDATA)))demo-seed.log
PYTEST_ARGS ?=

.PHONY: help demo demo-steps test lint services chromium check-deploy

help:
	@echo "make demo          run the dashboard with demo data at http://127.0.0.1:$(PORT) (embedded PostgreSQL)"
	@echo "make test          set up PostgreSQL, Redis, Chromium and the venv, then run every test"
	@echo "make check-deploy  Django's deployment checks against the production settings"
	@echo "Variables: VENV=$(VENV) PORT=$(PORT) DEMO_PGDATA=$(DEMO_PGDATA) PYTEST_ARGS=..."

# --- Python environment: created once, reinstalled only when a requirements file changes ---

$(PY):
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed: no python3.11 or python3 on PATH." >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))' \
		|| { echo "Python 3.11 is needed; $(PYTHON) is $$($(PYTHON) --version 2>&1)." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.demo-installed: requirements-demo.txt requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-demo.txt
	@touch $@ $(VENV)/.runtime-installed

$(VENV)/.dev-installed: requirements-dev.txt requirements-demo.txt requirements.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@ $(VENV)/.demo-installed $(VENV)/.runtime-installed

# --- make demo: an embedded PostgreSQL + eager tasks, whatever the shell's environment says ---
# config.embedded_pg starts PostgreSQL from the wheel (data in DEMO_PGDATA, a unix socket there, no TCP
# port), runs the steps below with DATABASE_URL pointing at it, and stops it when they end (Ctrl-C too).

demo: export DJANGO_SETTINGS_MODULE = config.settings.local
demo: export DATABASE_URL =
demo: export REDIS_URL =
demo: export DJANGO_DEBUG = false
demo: $(VENV)/.demo-installed
	@$(PY) -m config.embedded_pg --data-dir $(DEMO_PGDATA) run -- $(MAKE) --no-print-directory demo-steps

demo-steps:
	@test -n "$${DATABASE_URL:-}" || { echo "make demo-steps runs inside make demo, which sets DATABASE_URL." >&2; exit 1; }
	$(MANAGE) migrate --noinput
	$(MANAGE) collectstatic --noinput --verbosity 0
	@$(call require_command,seed_demo,seed)
	@if $(PY) -c 'import django, sys; django.setup(); from customers.models import Customer; sys.exit(Customer.objects.exists())'; then \
		echo "$(MANAGE) seed_demo"; $(MANAGE) seed_demo | tee $(DEMO_LOG); \
	else echo "Demo data already in $(DEMO_PGDATA): not seeding again (stop the demo and delete $(DEMO_PGDATA) to start over)."; fi
	@$(call require_command,retier,retier)
	@# Re-tiered once, after seeding; a restart shows the runs as they were (the dashboard's "Run re-tier now" adds one).
	@if $(PY) -c 'import django, sys; django.setup(); from tiering.models import RetierRun; sys.exit(RetierRun.objects.filter(status="succeeded").exists())'; then \
		echo "$(MANAGE) retier"; $(MANAGE) retier; \
	else echo "Demo data already tiered: no new run on restart."; fi
	@echo
	@echo "Tierboard is starting: sign in at http://127.0.0.1:$(PORT)/accounts/login/"
	@if [ -s $(DEMO_LOG) ]; then echo "Demo logins, as seed_demo printed them (also in $(DEMO_LOG)):"; cat $(DEMO_LOG); fi
	@echo
	$(MANAGE) runserver --noreload 127.0.0.1:$(PORT)

# A command another part of the project provides; say plainly which one is missing.
define require_command
$(MANAGE) help $(1) >/dev/null 2>&1 || { echo "make demo: 'manage.py $(1)' does not exist in this checkout (it comes with the $(2) work)." >&2; exit 1; }
endef

# --- make test: the real PostgreSQL, Redis and Chromium, then every test ---

test: lint services chromium
	@status=0; $(PY) -m pytest --ds=config.settings.test $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests, which is a failure here." >&2; fi; \
	exit $$status

# ruff: lint and the format check (ruff.toml); `$(VENV)/bin/ruff format .` fixes the format.
# mypy: type checks of the pure modules (mypy.ini lists them).
lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

services:
	@bash scripts/services.sh

chromium:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "make test: the browser tests need /usr/bin/chromium. Install Debian's package as root:" >&2; \
		echo "  apt-get update && apt-get install -y chromium" >&2; exit 1; fi; \
	echo "Installing Debian's chromium for the browser tests"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# --- deployment checks with a throwaway key; no database or broker is contacted ---

check-deploy: export DJANGO_SETTINGS_MODULE = config.settings.production
check-deploy: $(VENV)/.runtime-installed
	DJANGO_SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))')" \
	DATABASE_URL="$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tierboard}" \
	REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:6379/0}" \
	$(MANAGE) check --deploy --fail-level WARNING

# --- bench, bench-small: added with bench/ ---
# Benchmarks (bench/README.md). BENCH_ARGS adds options, e.g. BENCH_ARGS="--sections import --keep-db".
bench: $(VENV)/.dev-installed services
	$(PY) bench/run.py --customers 1000000 $(BENCH_ARGS)

bench-small: $(VENV)/.dev-installed services
	$(PY) bench/run.py --customers 2000 --output bench/results/small.json $(BENCH_ARGS)

.PHONY: bench bench-small

# --- screenshots: added with dashboard/ ---
# PNGs of each dashboard page into screenshots/ (git-ignored), from a running server: `make demo` first.
screenshots: $(VENV)/.dev-installed
	$(PY) scripts/screenshots.py $(SCREENSHOT_ARGS)

.PHONY: screenshots
