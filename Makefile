# make serve   the service on http://127.0.0.1:8000 (SQLite ./agentkeep.db unless AGENTKEEP_DATABASE_URL)
# make test    the whole test suite; PostgreSQL tests run when a server is reachable
# make lint    ruff, mypy, import-linter: what .ci/run checks
# make bench   the benchmarks of SPEC §8 against their bars (20-30 minutes; needs wrk, installed if it can be)
# make bench-smoke   the same, tiny (under 2 minutes): the benchmarks work; figures in a temp dir
#
# Each target creates .venv (Python 3.11+) and installs the project into it when needed.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# The first Python 3.11+ on PATH (override: make test PYTHON=/path/to/python3.12).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
# The local server the PostgreSQL tests use when AGENTKEEP_TEST_POSTGRES_URL is not set.
LOCAL_TEST_POSTGRES_URL := postgresql://postgres@127.0.0.1:5432/test
# Can we connect (and log in)? A bash $'...' string: the Python spans lines.
PROBE_POSTGRES := $$'import asyncio, asyncpg, sys\nasync def probe():\n    await (await asyncpg.connect(sys.argv[1], timeout=3)).close()\nasyncio.run(probe())'
PYTEST_ARGS ?=
SERVE_ARGS ?=
BENCH_ARGS ?=

.PHONY: help install install-dev serve test lint bench bench-smoke bench-wrk

help:
	@sed -n 's/^# \(make .*\)/\1/p' $(firstword $(MAKEFILE_LIST))

$(BIN)/python:
	@[ -n "$(PYTHON)" ] || { echo "agentkeep needs Python 3.11 or newer on PATH (or PYTHON=...)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip

# Stamps: reinstall when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev,bench]"
	@touch $@ $(VENV)/.installed-dev $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# serve upgrades the schema itself (under a lock), then starts the API.
serve: $(VENV)/.installed
	$(BIN)/agentkeep serve $(SERVE_ARGS)

# PostgreSQL: AGENTKEEP_TEST_POSTGRES_URL if set (.ci/run sets it), else the local server if one
# answers, else the PostgreSQL tests skip (outside CI). pytest's "no tests collected" (5) fails too.
test: $(VENV)/.installed-dev
	@url="$${AGENTKEEP_TEST_POSTGRES_URL:-}"; \
	if [ -z "$$url" ] && $(BIN)/python -c $(PROBE_POSTGRES) "$(LOCAL_TEST_POSTGRES_URL)" >/dev/null 2>&1; then \
		url="$(LOCAL_TEST_POSTGRES_URL)"; fi; \
	if [ -n "$$url" ]; then export AGENTKEEP_TEST_POSTGRES_URL="$$url"; echo "PostgreSQL tests: on"; \
	else echo "PostgreSQL tests: skipped (no server at $(LOCAL_TEST_POSTGRES_URL); set AGENTKEEP_TEST_POSTGRES_URL)"; fi; \
	status=0; $(BIN)/pytest $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: that is a failure" >&2; exit 1; fi; \
	exit $$status

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy agentkeep/domain agentkeep/application
	$(BIN)/mypy agentkeep/__init__.py agentkeep/adapters agentkeep/entrypoints agentkeep/testing --exclude agentkeep/testing/contract  # tests are not type-checked
	$(BIN)/lint-imports

# wrk drives the HTTP benchmark: installed with apt-get when we are root or may sudo without a
# password; else we say how (and `python -m bench` refuses the http part without it).
bench-wrk:
	@command -v wrk >/dev/null 2>&1 && exit 0; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; \
	elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq wrk; \
	else echo "wrk is not installed: apt-get install wrk (Debian, Ubuntu) or brew install wrk (macOS)." \
		"Without it: make bench BENCH_ARGS='--only history,migrate'" >&2; fi

# PostgreSQL as for `make test`: AGENTKEEP_TEST_POSTGRES_URL, else the local server if it answers,
# else SQLite only. Each measurement makes a database of its own on that server and drops it.
bench bench-smoke: $(VENV)/.installed-bench bench-wrk
	@url="$${AGENTKEEP_TEST_POSTGRES_URL:-}"; \
	if [ -z "$$url" ] && $(BIN)/python -c $(PROBE_POSTGRES) "$(LOCAL_TEST_POSTGRES_URL)" >/dev/null 2>&1; then \
		url="$(LOCAL_TEST_POSTGRES_URL)"; fi; \
	if [ -n "$$url" ]; then export AGENTKEEP_TEST_POSTGRES_URL="$$url"; fi; \
	$(BIN)/python -m bench $(if $(filter bench-smoke,$@),--quick) $(BENCH_ARGS)
