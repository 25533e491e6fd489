# Two commands for a newcomer: `make run` and `make test`. Everything installs into .venv.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install tools browser bench-tools run test test-all check lint

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Debian tools the tests run: named-checkzone (bind9-utils) checks the RPZ zones (as root).
tools:
	command -v named-checkzone >/dev/null || (apt-get update -qq && apt-get install -y -qq bind9-utils)

# The browser the console's tests drive: Debian's chromium (the machine runs as root).
browser: tools
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# Peers the benches measure against that are not wheels: Meta's reference vpdq (bench/video.py),
# an sdist built against Debian's FFmpeg development packages. Tutela itself never needs it.
FFMPEG_DEV := libavcodec-dev libavformat-dev libavdevice-dev libavfilter-dev libavutil-dev \
  libswscale-dev libswresample-dev pkg-config
bench-tools: install
	dpkg -s $(FFMPEG_DEV) >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq $(FFMPEG_DEV))
	$(BIN)/python -c "import vpdq" 2>/dev/null || $(BIN)/pip install --quiet vpdq

# The provider node on the embedded default (SQLite in ./tutela-data): the HTTP API on
# http://127.0.0.1:8000 (docs at /docs) and a detection worker. Ctrl-C stops it.
run: install
	$(BIN)/tutela db upgrade
	$(BIN)/tutela serve

# ruff (lint and format), mypy --strict, and the README's generated tables (scripts/docs.py).
# `make lint` is the same thing.
check: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python scripts/docs.py --check

lint: check

# Tests start hundreds of Python processes (nodes, workers, commands): each reads the package's
# cached bytecode instead of compiling every module again, even where the environment says
# PYTHONDONTWRITEBYTECODE (about 0.5 CPU-s per node process).
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest

# The fast tier, in parallel: everything but the slow end-to-end, browser and fuzzing tests, on
# SQLite (and PostgreSQL too when TUTELA_TEST_DATABASE_URL is set). A few minutes on 2 cores.
# One worker more than the cores: its tests spend part of their time waiting for the nodes they
# start, so a third worker on 2 cores finishes the tier 1.13x sooner (4:31 against 5:07).
FAST_JOBS := $(shell echo $$(( $$(nproc) + 1 )))
test: check tools
	$(PYTEST) -n $(FAST_JOBS) -m "not slow and not browser and not fuzz" --durations=10

# Every test: the fast tier plus the slow end-to-end, browser (Debian's chromium) and fuzzing tests.
# CI runs this with TUTELA_TEST_DATABASE_URL set, so the PostgreSQL variants run too.
test-all: check browser
	$(PYTEST) -n auto --durations=25
