# `make demo` and `make test` work on a fresh machine: they create .venv and install
# everything they need: the Debian packages of a test node, the Kubernetes binaries
# (control plane and node, built from the Go module proxy) and the project's images.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
BENCH_INSTALLED := $(VENV)/.bench-installed

.PHONY: demo test lint unit health docs packages cluster images benchmark crds clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[optimize,dev]'
	touch $@

$(BENCH_INSTALLED): $(INSTALLED) benchmarks/requirements.txt
	$(BIN)/python -m pip install --quiet -r benchmarks/requirements.txt
	touch $@

demo: $(INSTALLED)
	$(BIN)/stratopt run examples/optimization-genetic.yaml

lint: $(INSTALLED)
	$(BIN)/ruff format --check stratopt tests benchmarks docs/_hooks
	$(BIN)/ruff check stratopt tests benchmarks docs/_hooks
	$(BIN)/mypy
	$(BIN)/lint-imports
	bash hack/lint-workflows.sh

# The Go build is CPU-bound and the image build mostly downloads: run them side by side.
unit: $(INSTALLED) packages
	$(MAKE) --no-print-directory -j2 cluster images
	$(BIN)/pytest

# Argo CD's health checks for the resources, run in gopher-lua as Argo CD runs them.
health:
	cd hack/health && GOTOOLCHAIN=local GOFLAGS=-mod=mod go test -count=1 ./...

# The documentation site; any warning (a broken link, a missing page) fails the build.
docs: $(INSTALLED)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test: lint docs unit health

crds: $(INSTALLED)
	$(BIN)/stratopt crds

packages:
	bash hack/install-node-packages.sh

cluster: packages
	bash hack/build-cluster.sh

images: packages
	bash hack/build-images.sh

benchmark: $(BENCH_INSTALLED)
	$(BIN)/python benchmarks/backtest_speed.py
	$(BIN)/python benchmarks/seed_scenarios.py
	$(BIN)/python benchmarks/bayesian.py
	$(BIN)/python benchmarks/nsga2.py
	$(BIN)/python benchmarks/real_data_checks.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache site
