# The two commands: `make up` runs the ledger, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock

.PHONY: setup lock up demo test lint typecheck slither pytest gas compile clean

# Exact versions from the lock, every file checked against its hashes; then the project itself, with nothing
# resolved again (and no isolated build environment to resolve: setuptools comes from the lock too).
# pip, as this machine configures it, also looks in local index folders and warns once per package they lack;
# those lines alone are dropped. So is setuptools' note that an editable install finds packages through a hook.
$(BIN)/procure: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	set -o pipefail; $(BIN)/pip install --quiet --require-hashes -r $(LOCK) 2>&1 | sed '/is ignored: it is neither a file nor a directory/d'
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(BIN)/procure

# npm ci empties node_modules first: through a symlink (a worktree sharing another checkout's packages) that
# would empty the other checkout's, so a symlinked node_modules is used as it is.
node_modules/.package-lock.json: package.json package-lock.json
	@if [ -L node_modules ]; then \
		echo "node_modules is a symlink to $$(readlink node_modules): using it as it is (run npm ci there)"; \
	else \
		echo "npm ci --no-audit --no-fund" && npm ci --no-audit --no-fund && touch node_modules/.package-lock.json; \
	fi

setup: $(BIN)/procure node_modules/.package-lock.json  ## .venv from the lock, node_modules from package-lock.json, contracts compiled
	$(BIN)/procure compile

lock: $(BIN)/procure  ## re-resolve requirements.lock from pyproject.toml's ranges (LOCK_ARGS=--upgrade: newest that fit)
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --extra dev --generate-hashes --allow-unsafe \
		--build-deps-for editable --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) \
		--output-file $(LOCK) pyproject.toml

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

clean:
	rm -rf var/cache artifacts cache
