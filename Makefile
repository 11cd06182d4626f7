# The two commands a fresh machine needs (README): `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -qq --upgrade pip
	$(BIN)/pip install -qq -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## The main job: import the 336,776 flights of 2013 into a fresh SQLite file, tick to 2014-01-07, summarise.
run: $(STAMP)
	$(BIN)/python -m commands.demo --fresh --database-url sqlite:///nycflights13.db

## The tests (PostgreSQL tests run when a server answers at BILLING_TEST_POSTGRES_URL; required when CI is set),
## on every core (pytest-xdist).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --dist worksteal

## Benchmarks (not tests): contracts tick on PostgreSQL and SQLite, CLI start-up, racing tickers.
bench: $(STAMP)
	$(BIN)/python bench/contracts_tick.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/racing_tickers.py

clean:
	rm -rf $(VENV) *.egg-info nycflights13.db*
