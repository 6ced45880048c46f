# Plugboard developer tasks. A newcomer needs two: `make run` and `make test`.
#
# Everything runs from the virtualenv in $(VENV), created on first use. Installs are
# remembered in stamp files that depend on pyproject.toml, so a target only reinstalls
# when the dependencies changed.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --no-print-directory

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# The suite runs on every CPU (pytest-xdist), a test file per worker; XDIST= runs it in one process.
XDIST ?= -n auto --dist loadfile

# The embedded profile (SQLite, local storage, inline jobs) for run / migrate / demo.
# Anything already set in the environment (e.g. PLUGBOARD_DATABASE_URL) wins.
run migrate demo: export PLUGBOARD_DATA_DIR ?= $(CURDIR)/var
run migrate demo: export PLUGBOARD_PUBLIC_URL ?= http://$(HOST):$(PORT)

# The test suite's services: the local PostgreSQL (as a superuser that creates a
# throw-away database and a non-superuser role) and the local Redis.
export PLUGBOARD_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
export PLUGBOARD_TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

INSTALLED := $(VENV)/.installed
INSTALLED_DEV := $(VENV)/.installed-dev

.PHONY: help run serve migrate demo dev test lint format clean clean-data

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) \
	  | awk 'BEGIN {FS = ":.*## "} {printf "  make %-11s %s\n", $$1, $$2}'

run: demo  ## install, migrate, seed the demo tenant, serve on HOST:PORT (127.0.0.1:8000)
	$(BIN)/plugboard serve --host $(HOST) --port $(PORT)

serve: $(INSTALLED)  ## serve without migrating or seeding
	$(BIN)/plugboard serve --host $(HOST) --port $(PORT)

migrate: $(INSTALLED)  ## apply every migration head (kernel and plugins)
	$(BIN)/plugboard db upgrade

demo: migrate  ## seed the demo tenant (idempotent) and print how to log in
	$(BIN)/plugboard demo $(if $(DEMO_PASSWORD),--password '$(DEMO_PASSWORD)')

dev: $(INSTALLED_DEV)  ## install with the dev tools (pytest, ruff, mypy, schemathesis), nothing else

# Tests see only the PLUGBOARD_TEST_* variables: a developer's own PLUGBOARD_* settings
# (a Redis URL, production env, ...) must not change what the suite exercises.
test: $(INSTALLED_DEV)  ## run the whole suite (needs the local PostgreSQL and Redis)
	unset $$(compgen -e | grep '^PLUGBOARD_' | grep -v '^PLUGBOARD_TEST_' || true); \
	$(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

# Both linters always run, so one pass shows every problem; either failing fails lint.
lint: $(INSTALLED_DEV)  ## ruff check everything; mypy (strict) on kernel and hookspecs
	status=0; $(BIN)/ruff check . || status=1; $(BIN)/mypy || status=1; exit $$status

format: $(INSTALLED_DEV)  ## ruff format and fix imports (rewrites files)
	$(BIN)/ruff check --select I --fix .
	$(BIN)/ruff format .

# The image's dependency lock (deploy/requirements.lock), with hashes, for Linux on
# Python 3.11 (the image's). Uses uv (pip install uv) when dependencies change.
.PHONY: lock
lock: $(INSTALLED_DEV)  ## regenerate deploy/requirements.lock from pyproject.toml
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml deploy/build-requirements.in --python-version 3.11 \
	  --python-platform x86_64-unknown-linux-gnu --generate-hashes --no-header --quiet \
	  -o deploy/requirements.lock.body
	{ sed -n '1,3p' deploy/requirements.lock; cat deploy/requirements.lock.body; } > deploy/requirements.lock.new
	rm deploy/requirements.lock.body
	mv deploy/requirements.lock.new deploy/requirements.lock

.PHONY: bench
bench: $(INSTALLED)  ## run the benchmarks (needs local PostgreSQL and Redis)
	$(BIN)/python -m bench

clean:  ## remove the virtualenv, caches and build output (keeps var/, the dev database)
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache ./*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

clean-data:  ## remove var/: the embedded database and stored files
	rm -rf var

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "Plugboard needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)." >&2; \
	  echo "Point make at one, e.g. 'make run PYTHON=python3.12'." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e .
	@touch $@

# The example third-party plugin is installed too: the suite checks that it is found
# through its entry point, exactly as a plugin author's package would be.
$(INSTALLED_DEV): pyproject.toml examples/plugboard-hello/pyproject.toml $(INSTALLED)
	$(BIN)/python -m pip install -e '.[dev]' -e examples/plugboard-hello
	@touch $@
