# One line per target. `make run` and `make test` are the two commands of the README.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
# The venv's python must be executable by the unprivileged user command steps run as (README,
# "Command steps"): a pyenv interpreter under /root (mode 0700) is not, Debian's is.
export UV_PYTHON := $(or $(wildcard /usr/bin/python3.11),3.11)
# Bytecode: uv compiles the installed packages once, at install, and Python may cache the project's
# own modules. A shell that sets PYTHONDONTWRITEBYTECODE (this machine's does) otherwise compiles every
# module from source in every process: ~0.7 s of CPU more for each Django process (test processes,
# servers, workers, command steps), and pytest rewrites the asserts of every plugin's modules
# (schemathesis alone has 244) again in each of its processes.
export UV_COMPILE_BYTECODE := 1
export PYTHONDONTWRITEBYTECODE :=
UV := .tools/bin/uv
PY := .venv/bin/python

.PHONY: run test test-fast install lint format migrate demo serve worker bench chaos screenshots clean

run: install migrate demo serve  ## set everything up, then start web + worker (Ctrl-C stops both)

# Test processes side by side (pytest-xdist): a third of a test's time is spent waiting on real
# servers, workers and browsers, so more processes than cores pays. Each has its own test
# database and Redis keys; IB_NAMESPACE keeps a whole run's keys apart from other runs; the chaos
# run restarts a PostgreSQL and a Redis of its own (bench/services.py), so nothing runs alone.
# The run's controlling process migrates one template database that each process clones
# (tests/template_db.py); the slow tests are dealt to the front of every process's share
# (tests/conftest.py) and worksteal hands a finished process the back of a busy one's queue, so
# the run ends together. The coverage floor is in pyproject.toml.
TEST_PROCESSES ?= 4
PYTEST := IB_NAMESPACE=ib-test-$$$$ $(PY) -m pytest -n $(TEST_PROCESSES) --dist worksteal

test: install lint  ## the whole suite with coverage; PostgreSQL when DATABASE_URL is set
	$(PY) manage.py makemigrations --check --dry-run && $(PY) manage.py spectacular --validate --fail-on-warn --file var/openapi.yaml
	$(PYTEST) --cov --cov-report=term --cov-report=xml:var/coverage.xml $(PYTEST_ARGS)

test-fast: install  ## the inner loop: no live servers, browsers or fuzzing, no coverage
	$(PYTEST) -q -m "not live and not browser and not fuzz" $(PYTEST_ARGS)

install: .venv/.synced

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen && touch $@

$(UV):
	python3 -m venv .tools && .tools/bin/pip install --quiet "uv==0.13.8"

lint: install
	$(PY) -m ruff check . && $(PY) -m ruff format --check . && .venv/bin/lint-imports --no-cache

format: install
	$(PY) -m ruff check --fix . && $(PY) -m ruff format .

migrate: install
	$(PY) manage.py migrate --noinput

demo: install
	$(PY) manage.py load_demo && $(PY) manage.py bootstrap_admin

serve: install
	$(PY) manage.py serve

worker: install
	$(PY) manage.py qcluster

bench: install
	$(PY) bench/engine.py && $(PY) bench/traces.py && $(PY) bench/ingest.py && $(PY) bench/live.py && $(PY) bench/load.py && $(PY) bench/dashboard_pages.py

chaos: install  ## 1,000 executions, workers SIGKILLed, PostgreSQL and Redis restarted
	$(PY) bench/chaos.py

screenshots: install  ## the demo driven through every dashboard page: PNGs at 1440 and 390 px in var/screenshots/
	$(PY) bench/screenshots.py

clean:
	rm -rf .venv .tools var .pytest_cache .ruff_cache .coverage
