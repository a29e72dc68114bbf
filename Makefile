# Kith — the two commands a new user needs are `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export KITH_DATA_DIR ?= $(CURDIR)/var
PG_URL ?= postgres://postgres@127.0.0.1:5432/kith
REDIS_URL_TEST ?= redis://127.0.0.1:6379/15
# Environment assignments go after `cd server &&`, or they would apply to `cd` alone.
PYTEST := $(PY) -m pytest
XDIST := -n 2 --dist loadfile

.PHONY: run test test-sqlite test-postgres test-celery test-browser install bench lint clean

$(PY):
	command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel

# Reinstall when a pyproject changes; editable installs pick up code changes by themselves.
$(STAMP): $(PY) server/pyproject.toml crmify/pyproject.toml
	$(PY) -m pip install --quiet -e "server[dev]" -e crmify
	touch $(STAMP)

install: $(STAMP)

## make run: the server with embedded defaults (SQLite, embedded job runner, console mail), demo data, on KITH_PORT.
run: install
	mkdir -p $(KITH_DATA_DIR)
	cd server && $(PY) manage.py kith_run

## make test: the whole suite. With CI=true: SQLite, then PostgreSQL, then the Celery worker job tests.
test: install
	@bin/ensure-chromium
	mkdir -p $(KITH_DATA_DIR)
	$(MAKE) --no-print-directory test-sqlite
ifeq ($(CI),true)
	$(MAKE) --no-print-directory test-postgres
	$(MAKE) --no-print-directory test-celery
endif

test-sqlite: install
	cd server && KITH_EXPECT_DB_VENDOR=sqlite $(PYTEST) $(XDIST) -m "not celery" $(PYTEST_ARGS)

test-postgres: install
	cd server && DATABASE_URL=$(PG_URL) KITH_EXPECT_DB_VENDOR=postgresql \
		$(PYTEST) $(XDIST) -m "not celery and not browser" $(PYTEST_ARGS)

test-celery: install
	cd server && DATABASE_URL=$(PG_URL) KITH_EXPECT_DB_VENDOR=postgresql KITH_TEST_BROKER_URL=$(REDIS_URL_TEST) \
		$(PYTEST) -m celery $(PYTEST_ARGS)

test-browser: install
	@bin/ensure-chromium
	cd server && $(PYTEST) -m browser $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check server crmify bench

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) var server/var
