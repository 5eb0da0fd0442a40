# Daramad: `make run` serves the app, `make test` runs the whole suite. Nothing else to install.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
LAUNCH    := $(PY) -m revops.launcher
CHROMIUM  ?= $(shell command -v chromium 2>/dev/null || command -v chromium-browser 2>/dev/null)
PYTEST_WORKERS ?= auto
export CHROMIUM
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install run test test-fast bench lint format lock migrations messages clean

help:
	@echo "make run     set up everything, then serve http://127.0.0.1:8000 with a worker and beat"
	@echo "make test    the whole test suite (browser tests when Chromium is installed)"
	@echo "make install create .venv and install Python and npm dependencies"
	@echo "make bench   performance.md's targets at BENCH_SCALE=small|medium|large (default medium)"
	@echo "make lint    ruff"
	@echo "make lock    refresh constraints.txt from the current install"

$(VENV)/bin/python:
	@python=$$(bin/find-python) || exit 1; \
	  echo "creating $(VENV) with $$python"; \
	  "$$python" -m venv $(VENV)

$(STAMP): $(VENV)/bin/python pyproject.toml constraints.txt package.json package-lock.json $(wildcard locale/*/LC_MESSAGES/*.po)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@command -v npm >/dev/null || { echo "npm is needed for the front-end assets (apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	bin/vendor-assets
	$(PY) bin/compile-messages
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(LAUNCH) run

# Two steps, both always run; the target fails when either fails (pytest's 5, "no test
# selected" by PYTEST_ARGS, counts as a failure only when neither step ran a test):
# 1. everything but the fault tests, in parallel;
# 2. the fault tests (tests/faults: workers killed, Redis and Postgres stopped), one at a
#    time, on an embedded Postgres and Redis of their own (a few minutes).
test: install
	@if [ -n "$(CHROMIUM)" ]; then \
	  marker="not faults"; \
	else \
	  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	  echo "!! No Chromium found: the BROWSER TESTS ARE SKIPPED.                                 !!"; \
	  echo "!! Install it (Debian: apt-get install -y chromium) or set CHROMIUM=/path/to/chromium. !!"; \
	  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	  marker="not browser and not faults"; \
	fi; \
	$(LAUNCH) test -n $(PYTEST_WORKERS) -m "$$marker" $(PYTEST_ARGS); main=$$?; \
	echo "[daramad] fault tests, serially (embedded Postgres and Redis of their own)"; \
	$(LAUNCH) test -p no:xdist -m faults $(PYTEST_ARGS); faults=$$?; \
	if [ $$main -eq 5 ] && [ $$faults -eq 5 ]; then exit 5; fi; \
	for status in $$main $$faults; do \
	  if [ $$status -ne 0 ] && [ $$status -ne 5 ]; then exit $$status; fi; \
	done

BENCH_SCALE ?= medium

# Builds (once) the database daramad_bench_$(BENCH_SCALE), serves it with gunicorn and a worker,
# measures every target of shared/spec/performance.md, writes bench/results/$(BENCH_SCALE).json.
bench: install
	$(LAUNCH) exec -- $(PY) bench/run.py --scale $(BENCH_SCALE) $(BENCH_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

lock: $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip freeze --exclude-editable --exclude daramad > constraints.txt

migrations: install
	$(LAUNCH) exec -- $(PY) manage.py makemigrations

messages: install
	$(LAUNCH) exec -- $(PY) manage.py makemessages -l fa --no-obsolete -i '.venv/*' -i 'node_modules/*' -i 'tests/*'
	$(PY) bin/compile-messages

clean:
	rm -rf $(VENV) node_modules static/vendor .data/staticfiles
