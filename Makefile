# Two commands on a fresh clone: `make run` and `make test`. Needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: run test lint fmt check-deploy verify-ledger clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(PY) scripts/run_local.py

test: $(VENV)/.installed-dev
	$(BIN)/pytest $(PYTEST_ARGS)

# Style, the layer rules of DESIGN.md (import-linter contracts in pyproject.toml) and types (mypy + django-stubs).
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

fmt: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check-deploy: $(VENV)/.installed
	DEBUG=0 SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') ALLOWED_HOSTS=example.com \
		FIELD_ENCRYPTION_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
		REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} $(PY) manage.py check --deploy --fail-level WARNING

verify-ledger: $(VENV)/.installed
	$(PY) manage.py verify_ledger

clean:
	rm -rf $(VENV) var .env

# Benchmark of the production-shaped stack (needs PostgreSQL and Redis on 127.0.0.1): see docs/performance.md.
# BENCH_QUICK=1 for a smoke run; BENCH_ARGS passes options to bench/run.py.
.PHONY: bench
$(VENV)/.installed-bench: requirements.txt requirements-bench.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@

bench: $(VENV)/.installed-bench
	$(PY) bench/run.py $(BENCH_ARGS)
