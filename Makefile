# make run: set up and serve with demo data and the sandbox (SQLite + in-process Redis).
# make test: set up and run the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test lint setup db worker clean bench

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

# Dev keys and instance/config.py: written when missing, completed when an older version wrote them.
setup: $(VENV)/.installed
	$(BIN)/python -m postpay.devkeys instance

# The development keys of `make setup` are refused unless the sandbox is on, and only the
# environment turns it on: every development target sets POSTPAY_SANDBOX=1.
db: setup
	POSTPAY_SANDBOX=1 $(BIN)/flask --app app db upgrade
	POSTPAY_SANDBOX=1 $(BIN)/flask --app app demo load

# One worker with threads: the in-process Redis lives in that worker, and the
# sandbox calls back into the service over HTTP while a request is open.
run: db
	POSTPAY_SANDBOX=1 $(BIN)/gunicorn -c gunicorn.conf.py 'app:create_app()'

# Jobs (pushes, reminders) need a real Redis shared with the web workers: REDIS_URL=redis://...
worker: setup
	POSTPAY_SANDBOX=1 $(BIN)/flask --app app jobs worker

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q

# The house rules (docs/design.md): ruff (style, imports at the top), import-linter's contracts
# (.importlinter) and no import circle among the modules, counting imports inside functions.
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python tools/import_cycles.py

# Issue 9 probes against gunicorn on PostgreSQL + Redis: writes bench/RESULTS.md (not part of CI).
# One probe: `.venv/bin/python bench/run.py --only p6` (P6, a city's day with locust: bench/cityday).
# BENCH_PG (default postgresql://postgres@127.0.0.1:5432) gets a scratch database; BENCH_REDIS_URL is emptied.
bench: setup
	$(BIN)/pip install -q --disable-pip-version-check -r bench/requirements.txt
	command -v wrk >/dev/null || apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache
