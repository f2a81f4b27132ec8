"""The client's results without a cluster: ``run_local`` and the typed result names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.client import Result, _split_field, load_resource, run_local
from stratopt.errors import InputError
from tests.conftest import EXAMPLES
from tests.test_examples import deep_merge


def genetic() -> dict[str, Any]:
    document = yaml.safe_load((EXAMPLES / "optimization-genetic.yaml").read_text())
    overrides = yaml.safe_load((EXAMPLES / "optimization-genetic.expect.yaml").read_text())
    document["spec"] = deep_merge(document["spec"], overrides["overrides"])
    document["spec"]["backtest"]["data"]["source"] = "synthetic:gbm?bars=5000&freq=1h&seed=7"
    return dict(document)


def test_a_spec_model_a_document_and_a_file_give_the_same_result(tmp_path: Path) -> None:
    document = genetic()
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(document))
    model = OptimizationRunSpec.model_validate(document["spec"])
    results = [run_local(source) for source in (document, path, model)]
    fronts = [[s.model_dump() for s in r.pareto_front] for r in results]
    assert fronts[0] == fronts[1] == fronts[2] and fronts[0]
    result = results[0]
    assert result.kind == "OptimizationRun" and result.phase == "Succeeded"
    assert result.iterations_completed == 60
    assert result.best_parameters == result.pareto_front[0].parameters
    with pytest.raises(AttributeError, match="top_features is a result of FeatureAnalysis"):
        _ = result.top_features


def test_single_objective_results_carry_the_seeds_names() -> None:
    document = genetic()
    document["spec"]["objectives"] = ["sharpe_ratio"]
    document["spec"]["algorithm"] = {"name": "random", "random": {"samples": 30}}
    result = run_local(document)
    assert result.best_objective_value == result.pareto_front[0].objectives["sharpe_ratio"]
    assert set(result.best_parameters or {}) == {"stop_loss", "take_profit", "position_size"}


def test_bad_input_raises_the_same_error_as_stratopt_run() -> None:
    document = genetic()
    document["spec"]["backtest"]["data"]["source"] = "synthetic:gbm?bars=ten"
    with pytest.raises(InputError) as caught:
        run_local(document)
    assert caught.value.field == "spec.backtest.data.source"
    with pytest.raises(InputError, match="apiVersion"):
        load_resource({**genetic(), "apiVersion": "stratopt.io/v9"})


def test_a_resource_without_a_name_is_generated_one_and_fields_are_split() -> None:
    document = load_resource(OptimizationRunSpec.model_validate(genetic()["spec"]))
    assert document["metadata"] == {"generateName": "optimizationrun-"}
    assert _split_field("spec.backtest.data.source: file not found: /x") == (
        "spec.backtest.data.source",
        "file not found: /x",
    )
    assert _split_field("the worker failed: boom") == ("", "the worker failed: boom")
    assert Result.of("FeatureAnalysis", {"topFeatures": ["rsi_14"]}).top_features == ["rsi_14"]
