# Portfolio Pipeline — the two README commands (`make demo`, `make test`) do all the set-up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORTFOLIO_HOME ?= $(CURDIR)/.portfolio
DAGSTER_HOME ?= $(PORTFOLIO_HOME)/dagster
DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= 1
DAGSTER_EVENT_BATCH_SIZE ?= 1000
export PORTFOLIO_HOME DAGSTER_HOME DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS
export DAGSTER_EVENT_BATCH_SIZE

STAMP := $(VENV)/.installed

.PHONY: demo test dev lint bench install instance clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,ib]'
	touch $(STAMP)

install: $(STAMP)

## The instance file is written once and never overwritten (a PostgreSQL one stays).
instance:
	mkdir -p $(DAGSTER_HOME)
	test -f $(DAGSTER_HOME)/dagster.yaml || cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

## make demo: set up, migrate and run the main job on the simulated demo market (SQLite).
demo: install instance
	$(BIN)/portfolio demo

## make test: lint, then the whole test suite.
test: install instance
	$(BIN)/ruff check .
	$(BIN)/dg check defs
	$(BIN)/python -m pytest

## make dev: the Dagster UI (webserver + daemon) on the same state the demo wrote. `dg dev` loads
## the project's code location from [tool.dg] in pyproject.toml (portfolio-pipeline,
## orchestration.definitions, as in workspace.yaml) with .venv's Python; the instance is DAGSTER_HOME.
dev: install instance
	$(BIN)/dg dev -h 127.0.0.1 -p 3000

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python -m benchmarks.ingest --symbols 5000 --days 1260

clean:
	rm -rf $(PORTFOLIO_HOME)
