"""NSGA-II side by side with Optuna's NSGAIISampler: front quality at equal budget.

Three problems, net profit against drawdown, each searched by stratopt's NSGA-II and by
Optuna's NSGAIISampler with the same population, generations and seeds; every trial is
evaluated by the same backtester. Fronts are compared by hypervolume, normalized by
the ideal and nadir of all fronts found on a problem (reference point 1.1), and by how
many distinct objective vectors they hold.

Run: ``python benchmarks/nsga2.py [--seeds 3]`` (``make benchmark`` installs Optuna).
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import numpy as np

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.backtest import Backtester
from stratopt.optimize import DRIVERS
from stratopt.optimize.pareto import hypervolume, non_dominated, objective_key

DATA = "synthetic:gbm?bars=20000&freq=1h&seed={seed}&reversion=0.05"
POPULATION, GENERATIONS = 60, 15
PROBLEMS: dict[str, dict[str, Any]] = {
    "rsi_reversion": {
        "data": 7,
        "parameters": [
            {"name": "stop_loss", "type": "float", "min": 20, "max": 80},
            {"name": "take_profit", "type": "float", "min": 40, "max": 200},
            {"name": "position_size", "type": "float", "min": 0.01, "max": 0.05},
        ],
    },
    "ema_crossover": {
        "data": 11,
        "parameters": [
            {"name": "fast_period", "type": "int", "min": 5, "max": 30},
            {"name": "slow_period", "type": "int", "min": 40, "max": 120},
            {"name": "stop_loss", "type": "float", "min": 20, "max": 120},
        ],
    },
    "donchian_breakout": {
        "data": 13,
        "parameters": [
            {"name": "channel", "type": "int", "min": 10, "max": 60},
            {"name": "exit_channel", "type": "int", "min": 5, "max": 30},
            {"name": "take_profit", "type": "float", "min": 40, "max": 300},
        ],
    },
}
OBJECTIVES = ["net_profit", "max_drawdown"]
SIGNS = np.array([-1.0, 1.0])  # to minimize


def problem_spec(strategy: str, seed: int) -> OptimizationRunSpec:
    problem = PROBLEMS[strategy]
    return OptimizationRunSpec.model_validate(
        {
            "seed": seed,
            "backtest": {
                "data": {"source": DATA.format(seed=problem["data"])},
                "strategy": {"name": strategy},
                "leverage": 20,
            },
            "parameters": problem["parameters"],
            "objectives": OBJECTIVES,
            "algorithm": {
                "name": "nsga2",
                "nsga2": {"populationSize": POPULATION, "generations": GENERATIONS},
            },
        }
    )


def stratopt_front(spec: OptimizationRunSpec, backtester: Backtester) -> np.ndarray:
    driver = DRIVERS["nsga2"](spec)
    while batch := driver.ask():
        driver.tell([backtester.evaluate(p) for p in batch])
    points = np.array([[e.metrics[o] for o in OBJECTIVES] for e in driver.evaluations])
    return points * SIGNS


def optuna_front(spec: OptimizationRunSpec, backtester: Backtester) -> np.ndarray:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.NSGAIISampler(population_size=POPULATION, seed=spec.seed)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    points = []
    for _ in range(POPULATION * GENERATIONS):
        trial = study.ask()
        params: dict[str, float] = {}
        for r in spec.parameters:
            assert r.min is not None and r.max is not None
            if r.type.value == "int":
                params[r.name] = float(trial.suggest_int(r.name, int(r.min), int(r.max)))
            else:
                params[r.name] = trial.suggest_float(r.name, r.min, r.max)
        metrics = backtester.evaluate(params)
        study.tell(trial, [metrics[o] for o in OBJECTIVES])
        points.append([metrics[o] for o in OBJECTIVES])
    return np.array(points) * SIGNS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    seeds = range(1, parser.parse_args().seeds + 1)
    print(f"== NSGA-II, {POPULATION} × {GENERATIONS} evaluations, {len(seeds)} seeds ==")
    for strategy in PROBLEMS:
        backtester = Backtester(problem_spec(strategy, 1).backtest)
        fronts: dict[str, list[np.ndarray]] = {"stratopt": [], "optuna": []}
        for seed in seeds:
            spec = problem_spec(strategy, seed)
            for name, search in (("stratopt", stratopt_front), ("optuna", optuna_front)):
                found = search(spec, backtester)
                fronts[name].append(found[non_dominated(found)])
        union = np.vstack([f for found in fronts.values() for f in found])
        ideal, nadir = union.min(axis=0), union.max(axis=0)
        volume = {
            name: [hypervolume(f, ideal, nadir) for f in found] for name, found in fronts.items()
        }
        distinct = {
            name: statistics.median(len({objective_key(row) for row in f}) for f in found)
            for name, found in fronts.items()
        }
        ratio = statistics.median(
            ours / theirs
            for ours, theirs in zip(volume["stratopt"], volume["optuna"], strict=True)
            if theirs > 0
        )
        print(
            f"{strategy:18s} hypervolume stratopt / optuna {ratio:.3f} (median over seeds; "
            f"stratopt {statistics.median(volume['stratopt']):.4f}, optuna "
            f"{statistics.median(volume['optuna']):.4f}); distinct front members "
            f"{distinct['stratopt']:.0f} vs {distinct['optuna']:.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
