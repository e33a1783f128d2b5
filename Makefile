# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config.example.yaml

.PHONY: run test check bench browser-test clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/relay serve --config $(CONFIG)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

browser-test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m browser

check: $(VENV)/.installed-test
	$(BIN)/ruff check relay connectors tests bench
	$(BIN)/ruff format --check relay connectors tests bench
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) relay.db relay.db-wal relay.db-shm .pytest_cache .mypy_cache .ruff_cache
