"""Small specs for every algorithm, sized for fast contract tests."""

from __future__ import annotations

from typing import Any

from stratopt.api.v1alpha1 import ALGORITHMS as CATALOGUE
from stratopt.api.v1alpha1 import OptimizationRunSpec

SETTINGS = {a.name: a for a in CATALOGUE}
DATA = "synthetic:gbm?bars=3000&freq=1h&seed=21"

ALGORITHMS: dict[str, dict[str, Any]] = {
    "nsga2": {"name": "nsga2", "nsga2": {"populationSize": 12, "generations": 4}},
    "bayesian": {
        "name": "bayesian",
        "bayesian": {"iterations": 9, "initialPoints": 4, "batchSize": 2},
    },
    "grid": {"name": "grid", "grid": {"steps": 4}},
    "random": {"name": "random", "random": {"samples": 30, "sampler": "lhs"}},
    "ensemble": {
        "name": "ensemble",
        "ensemble": {
            "budget": 40,
            "members": [{"name": "random", "weight": 1}, {"name": "nsga2", "weight": 2}],
        },
    },
}


def small_spec(algorithm: str, seed: int = 7, **extra: Any) -> OptimizationRunSpec:
    single = SETTINGS[algorithm].single_objective
    objectives = ["sharpe_ratio"] if single else ["net_profit", "max_drawdown"]
    document: dict[str, Any] = {
        "seed": seed,
        "backtest": {
            "data": {"source": DATA},
            "strategy": {"name": "rsi_reversion"},
            "leverage": 10,
        },
        "parameters": [
            {"name": "rsi_period", "type": "int", "min": 5, "max": 30},
            {"name": "stop_loss", "type": "float", "min": 10, "max": 80},
            {"name": "take_profit", "type": "float", "min": 20, "max": 150},
        ],
        "objectives": objectives,
        "algorithm": ALGORITHMS[algorithm],
    }
    document.update(extra)
    return OptimizationRunSpec.model_validate(document)
