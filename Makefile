# Everyday commands. `make run` brings the whole system up; `make test` runs the full suite.
SHELL := /bin/bash
PYTHON ?= $(shell scripts/find-python)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)

# The suite runs on PostgreSQL and Redis (override to point elsewhere).
TEST_DATABASE_URL ?= postgres://root@127.0.0.1:5432/oms
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_ENV := DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_REDIS_URL) REDIS_URL=$(TEST_REDIS_URL) \
	OMS_VAR_DIR=$(CURDIR)/var/test DJANGO_ENV=test
PYTEST_ARGS ?=
# Commands run by hand on a workstation (the settings are production's unless told otherwise).
DEV_ENV := DJANGO_ENV=$${DJANGO_ENV:-development}

.PHONY: help venv run test test-fast test-slow test-fuzz test-multihost restore-drill test-flakes mutate lint format migrations messages bench clean

help:
	@echo "make run        start web + worker + beat with demo data (SQLite unless DATABASE_URL is set)"
	@echo "make test       lint, migration check and the full test suite on PostgreSQL + Redis"
	@echo "make test-slow  the long suites (load, chaos, full fuzzing, failover, PgBouncer)"
	@echo "make restore-drill  back up, wipe and restore a private PostgreSQL + files, then the API journey"
	@echo "make test-fuzz  schemathesis against the live API, >= 100 examples per operation"
	@echo "make test-multihost  the system on 7 test hosts in network namespaces (root, iproute2; ~6 min)"
	@echo "make test-flakes  the race, idempotency and worker-kill tests 20 times in a row (RUNS=n)"
	@echo "make mutate MODULE=catalog/services.py TESTS=\"tests/orders ...\"  mutation testing of one module"
	@echo "make lint       ruff check + format check + import layers (.importlinter);  make format  to fix"
	@echo "make bench      benchmarks (results go to docs/benchmarks.md by hand)"

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -n "$(PYTHON)" || { echo "Python >= 3.12 is required" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "pip==26.3" 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt --group dev 2>&1 | grep -v "^WARNING: Location"; \
		test $${PIPESTATUS[0]} -eq 0
	rm -f $(VENV)/.installed-*
	touch $@

run: venv
	PYTHON=$(PY) scripts/run.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations: venv
	$(DEV_ENV) $(PY) manage.py makemigrations

messages: venv
	$(DEV_ENV) $(PY) manage.py makemessages -l bg --ignore=.venv --ignore=var --ignore=static --ignore=tests --ignore=bench
	$(DEV_ENV) $(PY) manage.py compilemessages --ignore=.venv

test: venv
	scripts/ensure-services.sh
	scripts/ensure-chromium.sh
	scripts/ensure-nginx.sh
	scripts/ensure-systemd-analyze.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(BIN)/pytest -m "not slow" $(PYTEST_ARGS)
	@# Then the multi-host suite (~2.5 min; root for its network namespaces, as CI runs), unless
	@# PYTEST_ARGS narrowed the run.
	@if [ -n "$(PYTEST_ARGS)" ]; then :; elif [ "$$(id -u)" = 0 ]; then \
		$(MAKE) --no-print-directory test-multihost; \
	else echo "NOTE: the multi-host suite needs root and did not run: sudo make test-multihost"; fi

test-fast: venv
	$(TEST_ENV) $(BIN)/pytest -m "not slow and not browser" -x $(PYTEST_ARGS)

test-slow: venv
	scripts/ensure-services.sh
	scripts/ensure-wapiti.sh
	scripts/ensure-pgbouncer.sh
	$(TEST_ENV) $(BIN)/pytest -m slow $(PYTEST_ARGS)

# Schemathesis with the full example count (≥ 100 per operation) against a live server.
test-fuzz: venv
	scripts/ensure-services.sh
	$(TEST_ENV) $(BIN)/pytest -m slow tests/api/test_fuzz.py $(PYTEST_ARGS)

# The multi-host suite: builds its own hosts (network namespaces, a private PostgreSQL, Redis and
# object store); the test database and Redis above are only the pytest process's own settings.
test-multihost: venv
	scripts/ensure-multihost.sh
	$(TEST_ENV) $(BIN)/pytest -m multihost -p no:randomly -s tests/multihost $(PYTEST_ARGS)
# The restore drill of docs/operations.md ("Backups and restore") on a private PostgreSQL cluster.
restore-drill: venv
	scripts/ensure-services.sh
	$(TEST_ENV) $(BIN)/pytest -m slow -s tests/ops/test_restore_drill.py $(PYTEST_ARGS)

# The tests that guard races, idempotency and worker kills, RUNS times in a row: 0 failures expected.
RUNS ?= 20
test-flakes: venv
	scripts/ensure-services.sh
	$(TEST_ENV) RUNS=$(RUNS) scripts/test-flakes.sh

# Mutation testing of one module against its tests (scripts/mutate.py; docs/testing.md has the scores):
#   make mutate MODULE=catalog/services.py FUNCS=stock_allocate,stock_consume TESTS="tests/orders/test_stock.py"
MODULE ?=
TESTS ?=
FUNCS ?=
MUTATE_ARGS ?=
mutate: venv
	@test -n "$(MODULE)" -a -n "$(TESTS)" || { echo 'usage: make mutate MODULE=path.py TESTS="test paths" [FUNCS=a,b]' >&2; exit 2; }
	scripts/ensure-services.sh
	$(TEST_ENV) $(PY) scripts/mutate.py $(MODULE) $(TESTS) $(if $(FUNCS),--functions $(FUNCS)) $(MUTATE_ARGS)

bench: venv
	scripts/ensure-services.sh
	$(TEST_ENV) $(PY) bench/run.py

clean:
	rm -rf $(VENV) var
