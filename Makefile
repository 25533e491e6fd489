# Two commands for a newcomer: `make run` and `make test`. Everything installs into .venv.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install browser run test lint

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The browser the console's tests drive: Debian's chromium (the machine runs as root).
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# The provider node on the embedded default (SQLite in ./tutela-data): the HTTP API on
# http://127.0.0.1:8000 (docs at /docs) and a detection worker. Ctrl-C stops it.
run: install
	$(BIN)/tutela db upgrade
	$(BIN)/tutela serve

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint browser
	$(BIN)/pytest
