# `make demo` and `make test` work on a fresh machine: they create .venv and install
# everything they need, the Kubernetes control-plane binaries included.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint unit controlplane benchmark crds clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[optimize,dev]'
	touch $@

demo: $(INSTALLED)
	$(BIN)/stratopt run examples/optimization-genetic.yaml

lint: $(INSTALLED)
	$(BIN)/ruff format --check stratopt tests benchmarks
	$(BIN)/ruff check stratopt tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(INSTALLED) controlplane
	$(BIN)/pytest

test: lint unit

crds: $(INSTALLED)
	$(BIN)/stratopt crds

controlplane:
	bash hack/build-controlplane.sh

benchmark: $(INSTALLED)
	$(BIN)/python benchmarks/backtest_speed.py
	$(BIN)/python benchmarks/seed_scenarios.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
