# medtrace: `make run` serves the demo on SQLite; `make test` runs lint, types and the suite on
# SQLite and on PostgreSQL.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Tests use their own throwaway database on the local PostgreSQL server (socket, trust auth)
# unless MEDTRACE_TEST_PG_URL points elsewhere; pytest-django creates test_<name> and drops it.
PG_TEST_URL := $(or $(MEDTRACE_TEST_PG_URL),postgresql://%2Fvar%2Frun%2Fpostgresql/medtrace_$(shell id -un))

# The suite runs in parallel (pytest-xdist), one worker per core, at most 4; each worker gets its
# own test database (pytest-django appends _gw0, _gw1, ...). Whole test files go to one worker
# (loadfile), so a module-scoped world is built once. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n < 4 ? n : 4 )))
PYTEST_XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# mypy's Django plugin loads the settings; it never touches patient data.
TYPECHECK_FIELD_KEY := bXlweS1vbmx5LWtleS1ub3QtZm9yLWFueS1kYXRhISE=
.PHONY: run install migrate demo test lint typecheck test-sqlite test-pg pg-start clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# The local demo's settings: DEBUG and a generated field-encryption key (kept, never rewritten:
# a new key would make the demo's encrypted patient data unreadable).
var/medtrace.env:
	mkdir -p var
	umask 077 && { echo "# written by make run for the local demo; not for production"; \
	  echo "MEDTRACE_DEBUG=1"; \
	  echo "MEDTRACE_FIELD_KEY=$$($(PYTHON) -c 'import base64,secrets;print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())')"; \
	} > $@.tmp && mv $@.tmp $@

migrate: install var/medtrace.env
	MEDTRACE_DEBUG=1 $(BIN)/medtrace migrate --noinput

# The background worker (outbox: webhooks, e-mail, EPCIS subscriptions; periodic alert rules)
# runs beside the web server and stops with it.
run: migrate
	MEDTRACE_DEBUG=1 $(BIN)/medtrace demo --if-empty
	MEDTRACE_DEBUG=1 $(BIN)/medtrace worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT; \
	  MEDTRACE_DEBUG=1 $(BIN)/medtrace runserver $(HOST):$(PORT)

demo: migrate
	MEDTRACE_DEBUG=1 $(BIN)/medtrace demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	MEDTRACE_DEBUG=1 MEDTRACE_FIELD_KEY=$(TYPECHECK_FIELD_KEY) $(BIN)/mypy medtrace conftest.py tests

test-sqlite: install
	env -u MEDTRACE_DATABASE_URL $(BIN)/pytest -q $(PYTEST_XDIST)

pg-start:
	@bash scripts/pg-ensure.sh

test-pg: install pg-start
	MEDTRACE_DATABASE_URL='$(PG_TEST_URL)' $(BIN)/pytest -q $(PYTEST_XDIST)

test: lint typecheck test-sqlite test-pg

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
