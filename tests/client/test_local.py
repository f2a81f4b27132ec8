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


def test_a_search_gives_its_evaluations_trades_and_equity_as_dataframes() -> None:
    from stratopt.data import synthesize_ohlcv

    document = genetic()
    # The bars a notebook holds, given as a DataFrame instead of the spec's source.
    frame = synthesize_ohlcv("synthetic:gbm?bars=4000&freq=1h&seed=9&reversion=0.05")
    frame = frame.rename(columns=str.capitalize).reset_index(names="Date")
    result = run_local(document, data=frame)
    evaluations = result.evaluations
    assert len(evaluations) == result.iterations_completed == 60
    assert {"stop_loss", "take_profit", "net_profit", "max_drawdown"} <= set(evaluations)
    balanced = result.status.picks.balanced
    trades = result.trades("balanced")
    assert list(trades.columns) == [
        "entry_time", "exit_time", "side", "entry_price", "exit_price", "size", "pnl",
        "costs", "exit_reason",
    ]  # fmt: skip
    assert len(trades) == balanced.metrics["num_trades"]
    assert trades["pnl"].sum() == pytest.approx(balanced.metrics["net_profit"], rel=1e-9)
    assert set(trades["exit_reason"]) <= {"signal", "stop", "target", "end of data"}
    equity = result.equity("balanced")
    assert len(equity) == 4000 and list(equity.columns) == ["equity", "drawdown", "position"]
    assert equity["equity"].iloc[-1] - 100_000 == pytest.approx(balanced.metrics["net_profit"])
    assert equity["drawdown"].max() == pytest.approx(balanced.metrics["max_drawdown"], rel=1e-6)
    with pytest.raises(KeyError, match="no 'cautious' pick"):
        result.trades("cautious")


def test_every_search_reports_buy_and_hold_of_the_same_bars() -> None:
    from stratopt.data import synthesize_ohlcv

    result = run_local(genetic())
    benchmark = result.status.benchmark
    close = synthesize_ohlcv("synthetic:gbm?bars=5000&freq=1h&seed=7")["close"]
    held = 100 * (close.iloc[-1] / close.iloc[0] - 1)
    assert benchmark["total_return"] == pytest.approx(held)
    assert set(benchmark) == {"total_return", "cagr", "max_drawdown", "sharpe_ratio"}
