# Accord: `make run` to try it, `make test` to check it, `make bench` to measure it.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: run install install-test test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# Embedded demo: SQLite under ./var, demo data on first start, UI + API + job worker.
run: install
	ACCORD_DEMO=1 $(BIN)/accord migrate --noinput
	ACCORD_DEMO=1 $(BIN)/accord loaddemo
	ACCORD_DEMO=1 $(BIN)/accord serve --bind 127.0.0.1:8000

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# SQLite by default; PostgreSQL when ACCORD_TEST_DATABASE_URL is set.
test: lint
	$(BIN)/pytest -q -n 2 --dist loadgroup

bench: install-test
	$(BIN)/python bench/run.py

clean:
	rm -rf var/test-* .pytest_cache
