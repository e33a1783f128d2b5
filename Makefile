# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config.example.yaml
PYTEST_ARGS ?=

.PHONY: run test check bench browser-test clean chromium

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

# PYTEST_ARGS: what to run or how, e.g. `make test PYTEST_ARGS='tests/unit -x'` (all of tests/ by default)
test: $(VENV)/.installed-test chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

browser-test: $(VENV)/.installed-test chromium
	$(BIN)/python -m pytest -m browser

# The browser tests drive Debian's Chromium (no browser download at test time); as root on Debian
# it is installed when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: chromium is not installed; the browser tests need it (apt-get install chromium)"; fi; }

check: $(VENV)/.installed-test
	$(BIN)/ruff check relay connectors tests bench
	$(BIN)/ruff format --check relay connectors tests bench
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	@command -v wrk >/dev/null 2>&1 && command -v hey >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk hey >/dev/null; fi; }
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) relay.db relay.db-wal relay.db-shm .pytest_cache .mypy_cache .ruff_cache
