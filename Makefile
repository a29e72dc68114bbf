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

.PHONY: run test test-sqlite test-postgres test-celery test-browser test-crmify install bench lint clean

$(PY):
	command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel

# Reinstall when a pyproject changes; editable installs pick up code changes by themselves.
$(STAMP): $(PY) server/pyproject.toml crmify/pyproject.toml
	$(PY) -m pip install --quiet -e "server[dev]" -e "crmify[dev]"
	touch $(STAMP)

install: $(STAMP)

## make run: the server with embedded defaults (SQLite, embedded job runner, console mail), demo data, on KITH_PORT.
run: install
	mkdir -p $(KITH_DATA_DIR)
	cd server && $(PY) manage.py kith_run

## make example: Kith (as make run starts it) + the storefront example + its crmify worker + an SMS sink, configured
## for each other; prints the URLs. Data under $(KITH_DATA_DIR)/storefront-example; see examples/storefront/README.md.
.PHONY: example
example: install
	$(PY) examples/storefront/devstack.py --data-dir $(KITH_DATA_DIR)/storefront-example

## make test: the whole suite. With CI=true: SQLite, then PostgreSQL, then the Celery worker job tests.
test: install
	@bin/ensure-chromium
	mkdir -p $(KITH_DATA_DIR)
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-crmify
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

## crmify's own suite: with the project's Django (5.2) on SQLite; with CI=true also on PostgreSQL with the Celery
## delivery test (a real worker on Redis db 14) and, in a separate venv, with Django 4.2 (the oldest supported).
CRMIFY_VENV_42 := $(CURDIR)/.venv-crmify-dj42
test-crmify: install
	mkdir -p $(KITH_DATA_DIR)/crmify
	cd crmify && CRMIFY_TEST_DATA_DIR=$(KITH_DATA_DIR)/crmify $(PYTEST) -p no:cacheprovider -m "not celery" $(PYTEST_ARGS)
ifeq ($(CI),true)
	cd crmify && CRMIFY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/crmify \
		CRMIFY_TEST_BROKER_URL=redis://127.0.0.1:6379/14 $(PYTEST) -p no:cacheprovider $(PYTEST_ARGS)
	test -x $(CRMIFY_VENV_42)/bin/python || $(PYTHON) -m venv $(CRMIFY_VENV_42)
	$(CRMIFY_VENV_42)/bin/pip install --quiet "Django>=4.2,<4.3" -e "crmify[dev]"
	cd crmify && CRMIFY_TEST_DATA_DIR=$(KITH_DATA_DIR)/crmify $(CRMIFY_VENV_42)/bin/python -m pytest -p no:cacheprovider \
		-m "not celery" $(PYTEST_ARGS)
endif

test-browser: install
	@bin/ensure-chromium
	cd server && $(PYTEST) -m browser $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check server crmify bench

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) var server/var
