"""The checks a run makes of its own answer, on real markets: what fires, and what stays
quiet.

Data: the S&P 500 and NASDAQ daily bars of 1999-2018 that the ``arch`` package ships,
and backtesting.py's hourly EURUSD and daily GOOG (installed with the tests). Each
scenario is one a user would run; the table says which checks spoke. Clean scenarios
(built-in strategies with sane ranges) should raise no probe warning; the planted ones
(a strategy reading the next bar, stops far inside a daily bar on an index, a feature
analysis of index returns) should.

Run: ``python benchmarks/real_data_checks.py`` (``make benchmark`` installs ``arch``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from stratopt.api import parse_model
from stratopt.api.v1alpha1 import FeatureAnalysisSpec, OptimizationRunSpec
from stratopt.errors import InputError
from stratopt.runtime import run_feature_analysis, run_optimization

# The planted look-ahead strategy lives with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def markets(folder: Path) -> dict[str, dict[str, Any]]:
    """Each market as a CSV file and how it is quoted."""
    from arch.data import nasdaq, sp500
    from backtesting.test import EURUSD, GOOG

    found = {}
    for name, frame, quote in (
        ("S&P 500", sp500.load(), {"pipSize": 1, "tickSize": 0.01}),
        ("NASDAQ", nasdaq.load(), {"pipSize": 1, "tickSize": 0.01}),
        ("EURUSD 1h", EURUSD, {}),
        ("GOOG", GOOG, {"pipSize": 1, "tickSize": 0.01}),
    ):
        path = folder / f"{name.replace(' ', '_').replace('&', '')}.csv"
        bars = frame[["Open", "High", "Low", "Close", "Volume"]].copy()
        bars.index = pd.DatetimeIndex(bars.index, name="timestamp")
        bars.to_csv(path)
        found[name] = {"source": str(path), **quote}
    return found


def search(
    data: dict[str, Any], strategy: str, parameters: list[dict[str, Any]], **more: Any
) -> Any:
    document = {
        "seed": 7,
        "backtest": {
            "data": data,
            "strategy": {"name": strategy},
            "capital": 100000,
            **more.pop("backtest", {}),
        },
        "parameters": parameters,
        "objectives": more.pop("objectives", ["net_profit", "max_drawdown"]),
        "algorithm": more.pop("algorithm", {"name": "random", "random": {"samples": 60}}),
        **more,
    }
    return parse_model(OptimizationRunSpec, document, "spec")


def outcome(spec: Any) -> str:
    started = time.perf_counter()
    try:
        status = run_optimization(spec, workers=2).status
    except InputError as error:
        return f"fails: {error.reason}: {error.message[:110]}…"
    warnings = [w[:110] + ("…" if len(w) > 110 else "") for w in status.warnings]
    seconds = time.perf_counter() - started
    said = "\n    ".join(warnings) if warnings else "no warning"
    return f"{seconds:.1f} s\n    {said}"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        data = markets(Path(folder))
        ema = [
            {"name": "fast_period", "type": "int", "min": 5, "max": 60},
            {"name": "slow_period", "type": "int", "min": 20, "max": 250},
        ]
        rsi = [
            {"name": "rsi_period", "type": "int", "min": 5, "max": 30},
            {"name": "stop_loss", "min": 1, "max": 10},
        ]
        scenarios = {}
        for market, quote in data.items():
            scenarios[f"{market}: EMA crossover, fast < slow"] = search(
                quote, "ema_crossover", ema, parameterConstraints=["fast_period < slow_period"]
            )
        scenarios["S&P 500: RSI, percent stops 1-10"] = search(
            data["S&P 500"], "rsi_reversion", rsi, backtest={"stopUnit": "percent"}
        )
        scenarios["S&P 500: EMA, stop_loss down to 0% (the daily-bar artifact)"] = search(
            data["S&P 500"],
            "ema_crossover",
            [*ema, {"name": "stop_loss", "min": 0, "max": 3}],
            parameterConstraints=["fast_period < slow_period"],
            backtest={"stopUnit": "percent"},
            algorithm={"name": "nsga2", "nsga2": {"populationSize": 40, "generations": 15}},
        )
        scenarios["S&P 500: walk-forward 5y/2y"] = search(
            data["S&P 500"],
            "ema_crossover",
            ema,
            parameterConstraints=["fast_period < slow_period"],
            walkForward={"train": "5y", "test": "2y"},
            algorithm={"name": "random", "random": {"samples": 20}},
        )
        scenarios["S&P 500: a strategy reading the next bar"] = search(
            data["S&P 500"],
            "tests.user_strategies.dishonest:PeeksAhead",
            [{"name": "lookback", "type": "int", "min": 2, "max": 9}],
        )
        for name, spec in scenarios.items():
            print(f"{name}: {outcome(spec)}", flush=True)
        analysis = parse_model(
            FeatureAnalysisSpec,
            {"data": data["S&P 500"], "target": {"kind": "direction", "horizon": 5}},
            "spec",
        )
        status = run_feature_analysis(analysis)
        print(
            f"S&P 500 feature analysis: ROC AUC {status.model_score:.3f} against "
            f"{status.baseline_score:.3f}: "
            + ("; ".join(w[:90] for w in status.warnings) or "no warning")
        )


if __name__ == "__main__":
    main()
