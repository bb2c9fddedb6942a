# bftx developer commands. `make test` and `make demo` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint typecheck unit bench demo contracts clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py src/bftx/exchange/_book.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: install
	$(BIN)/mypy --strict src

unit: install
	$(BIN)/pytest -n 2

test: lint typecheck unit

bench: install
	$(BIN)/python -m bftx.bench.matching

demo: install
	$(BIN)/bftx demo $(ARGS)

# Recompile the Ethereum HTLC with the pinned solc from npm (needs Node.js) and
# refresh the committed ABI + bytecode (src/bftx/ethereum/HashedTimelock.json).
contracts:
	cd contracts/ethereum && npm ci --no-audit --no-fund --loglevel=error && node compile.js

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
