"""``execution.mode: auto`` distributes a search only when a batch outweighs pod start-up."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.runtime.distributed import execution_mode
from tests.conftest import EXAMPLES


def _genetic(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((EXAMPLES / "optimization-genetic.yaml").read_text())[
        "spec"
    ]
    for key, value in changes.items():
        spec[key] = value
    return spec


def test_the_examples_run_in_one_pod() -> None:
    for name in ("genetic", "grid", "random", "bayesian", "ensemble"):
        document = yaml.safe_load((EXAMPLES / f"optimization-{name}.yaml").read_text())
        assert execution_mode(OptimizationRunSpec.model_validate(document["spec"])) == "single"


def test_big_batches_on_long_data_are_distributed() -> None:
    spec = _genetic()
    spec["backtest"]["data"]["source"] = "synthetic:gbm?bars=2000000&freq=1m&seed=7"
    spec["algorithm"]["nsga2"] = {"populationSize": 10_000, "generations": 5}
    assert execution_mode(OptimizationRunSpec.model_validate(spec)) == "distributed"
    small = copy.deepcopy(spec)
    small["algorithm"]["nsga2"]["populationSize"] = 100
    assert execution_mode(OptimizationRunSpec.model_validate(small)) == "single"


def test_an_explicit_mode_is_kept() -> None:
    for mode in ("single", "distributed"):
        spec = _genetic(execution={"mode": mode})
        assert execution_mode(OptimizationRunSpec.model_validate(spec)) == mode


def test_auto_mode_is_sized_from_the_spec_without_running_the_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import stratopt.optimize
    import stratopt.runtime.distributed

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a driver was built to size the run")

    refusing = dict.fromkeys(stratopt.optimize.DRIVERS, refuse)
    monkeypatch.setattr(stratopt.optimize, "DRIVERS", refusing)
    monkeypatch.setattr(stratopt.runtime.distributed, "DRIVERS", refusing)
    grid = _genetic(algorithm={"name": "grid", "grid": {"steps": 46}})  # 97,336 points
    grid["backtest"]["data"]["source"] = "synthetic:gbm?bars=200000&freq=1m&seed=7"
    assert execution_mode(OptimizationRunSpec.model_validate(grid)) == "distributed"
    sampled = _genetic(algorithm={"name": "random", "random": {"samples": 50}})
    assert execution_mode(OptimizationRunSpec.model_validate(sampled)) == "single"
