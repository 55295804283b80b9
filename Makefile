# lightcnn — set-up, tests and the reproduction of the paper tables.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= smoke
JOBS ?= 1
LAUNCHER ?=
BENCH_ARGS ?=
REPRODUCE_ARGS ?=

.PHONY: install test test-slow test-all lint docs bench reproduce-tables clean

install: $(VENV)/.installed  ## virtual environment with torch pinned to the CPU wheel, lightcnn editable, dev tools

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt torch
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

test: install  ## the default suite (slow tests excluded), one worker per core: what CI runs
	$(BIN)/pytest -q -n auto -m "not slow"

test-slow: install  ## only the slow tests (end-to-end subprocesses, the wheel, DDP, every kill point of resume): CI runs them after `make test`
	$(BIN)/pytest -q -m slow

test-all: install  ## every test, the slow ones too
	$(BIN)/pytest -q

lint: install  ## ruff, and the import contract: layers point one way (pyproject.toml [tool.importlinter])
	$(BIN)/ruff check lightcnn hydra_plugins tests
	$(BIN)/ruff format --check lightcnn hydra_plugins tests
	$(BIN)/lint-imports

docs: install  ## rewrite the docs that list every option (README's matrix, docs/usage.md's groups, docs/options.md)
	$(BIN)/python -m lightcnn.generated_docs

bench: install  ## training throughput: lightcnn vs a plain PyTorch loop (BENCH_ARGS="--depth 56 --batch-size 512")
	$(BIN)/python -m lightcnn.bench $(BENCH_ARGS)

reproduce-tables: install  ## every experiments/**/*.yaml at PROFILE=smoke|quick|paper (JOBS=N, LAUNCHER=slurm, REPRODUCE_ARGS="--results DIR"), then reports/$(PROFILE)/
	$(BIN)/python -m lightcnn.reproduce --profile $(PROFILE) --jobs $(JOBS) $(if $(LAUNCHER),--launcher $(LAUNCHER)) $(REPRODUCE_ARGS)

clean:
	rm -rf results reports outputs multirun .pytest_cache .ruff_cache
