# The two commands: `make run` (the local stack) and `make test` (lint, types, tests).
# Each sets itself up: virtualenv, Python packages, the pinned restate-server binary.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SOURCES := $(wildcard services provider local_stack telemetry sealing asl tests bench deploy)

.PHONY: run test setup lint typecheck pytest test-containers restate-server clean

run: setup
	$(BIN)/landlord-restate run

test: setup lint typecheck pytest test-containers

setup: $(STAMP) restate-server

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv --help >/dev/null 2>&1 || { \
	  echo "installing python3-venv (Debian package)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# The pinned server comes from the npm registry into a per-user cache (reused when present).
restate-server: $(STAMP)
	@command -v npm >/dev/null 2>&1 || { \
	  echo "installing npm (Debian package) to fetch restate-server"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq npm; }
	@$(BIN)/python -m local_stack >/dev/null

lint: $(STAMP)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/ruff check $(SOURCES)

typecheck: $(STAMP)
	$(BIN)/mypy services provider local_stack telemetry sealing asl bench tests

pytest: $(STAMP) restate-server
	$(BIN)/pytest -m "not containers"

# The container tier: starts a Docker engine when none answers (Debian's docker.io, vfs storage;
# needs root or password-less sudo), builds the images here, runs the compose stack. Without an
# engine its tests are skipped and the summary says why.
test-containers: $(STAMP) restate-server
	$(BIN)/pytest -m containers tests/containers

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
