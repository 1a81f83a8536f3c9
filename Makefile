# The two commands: `make up` runs the ledger, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup up demo test lint typecheck slither pytest gas compile clean

$(BIN)/procure: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/procure

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch node_modules/.package-lock.json

setup: $(BIN)/procure node_modules/.package-lock.json

up: setup  ## run the whole ledger (chain, deployment, demo seed, indexer, gateway) until Ctrl-C
	$(BIN)/procure up

demo: setup  ## the whole story headless on a fresh temporary chain; non-zero on any mismatch
	$(BIN)/python -m scripts.demo

test: setup lint typecheck slither pytest  ## every check and test

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

slither: setup  ## static analysis of contracts/ (slither.config.json); an untriaged High or Medium finding fails
	$(BIN)/python -m tests.contracts.slither_check

pytest: setup
	$(BIN)/pytest -n 2 --dist loadfile

gas: setup
	$(BIN)/python scripts/bench_gas.py

compile: setup
	$(BIN)/procure compile

clean:
	rm -rf var/cache artifacts cache
