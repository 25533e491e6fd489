# Two commands for a newcomer: `make run` and `make test`. Everything installs into .venv.
VENV ?= .venv
BIN := $(VENV)/bin
PHOTOS ?= ../shared/testdata/pdq

.PHONY: install run test lint

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The provider's main job on the embedded default (SQLite in ./tutela-data): match photos
# against every enabled bank. PHOTOS=DIR picks the folder.
run: install
	$(BIN)/tutela db upgrade
	$(BIN)/tutela match $(PHOTOS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest
