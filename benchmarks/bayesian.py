"""Bayesian search side by side with Optuna, on the seed scenario's problem.

The problem is ``examples/optimization-bayesian.yaml``: the Sharpe ratio over stop-loss
and take-profit, 50 evaluations, on ten years of hourly synthetic FX. Every sampler's
trials are evaluated by the same backtester, in this process, so the figures compare the
samplers alone:

* quality: the best Sharpe ratio found, as a gap to the best of an exhaustive grid of
  61 × 81 points over the same box (median over the seeds);
* overhead: the sampler's own CPU time per iteration (asking and telling), without the
  backtests.

Samplers: stratopt's Bayesian (scikit-optimize GP) and random search, Optuna's
TPESampler and GPSampler (GPSampler needs PyTorch; without it, its row says so).
Run: ``python benchmarks/bayesian.py [--seeds 5]`` (``make benchmark`` installs the peers).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.backtest import Backtester
from stratopt.optimize import DRIVERS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "optimization-bayesian.yaml"
#: A sampler run: (seed) -> (best Sharpe found, sampler CPU seconds, iterations).
Run = Callable[[int], tuple[float, float, int]]


def example_spec(**changes: object) -> OptimizationRunSpec:
    document = yaml.safe_load(EXAMPLE.read_text())["spec"]
    document.update(changes)
    return OptimizationRunSpec.model_validate(document)


def stratopt_run(backtester: Backtester, algorithm: str) -> Run:
    def run(seed: int) -> tuple[float, float, int]:
        spec = example_spec(seed=seed)
        if algorithm == "random":
            spec = example_spec(
                seed=seed,
                algorithm={"name": "random", "random": {"samples": 50, "sampler": "sobol"}},
            )
        driver = DRIVERS[spec.algorithm.name](spec)
        overhead = 0.0
        while True:
            started = time.process_time()
            batch = driver.ask()
            overhead += time.process_time() - started
            if not batch:
                break
            metrics = [backtester.evaluate(p) for p in batch]
            started = time.process_time()
            driver.tell(metrics)
            overhead += time.process_time() - started
        sharpe = max(e.metrics["sharpe_ratio"] for e in driver.evaluations)
        return sharpe, overhead, len(driver.history)

    return run


def optuna_run(backtester: Backtester, sampler_name: str) -> Run:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    box = {r.name: (float(r.min or 0.0), float(r.max or 0.0)) for r in example_spec().parameters}

    def run(seed: int) -> tuple[float, float, int]:
        if sampler_name == "GPSampler":
            sampler: optuna.samplers.BaseSampler = optuna.samplers.GPSampler(seed=seed)
        else:
            sampler = optuna.samplers.TPESampler(seed=seed)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        overhead, best = 0.0, -np.inf
        for _ in range(50):
            started = time.process_time()
            trial = study.ask()
            params = {name: trial.suggest_float(name, *bounds) for name, bounds in box.items()}
            overhead += time.process_time() - started
            sharpe = backtester.evaluate(params)["sharpe_ratio"]
            best = max(best, sharpe)
            started = time.process_time()
            study.tell(trial, sharpe)
            overhead += time.process_time() - started
        return best, overhead, 50

    return run


def exhaustive_best(backtester: Backtester) -> tuple[float, int]:
    grid = [
        {"stop_loss": float(s), "take_profit": float(t)}
        for s in range(20, 81)
        for t in range(40, 201, 2)
    ]
    return max(backtester.evaluate(p)["sharpe_ratio"] for p in grid), len(grid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    seeds = range(1, parser.parse_args().seeds + 1)
    backtester = Backtester(example_spec().backtest)
    backtester.evaluate()  # compile the engine and cache the signals
    target, points = exhaustive_best(backtester)
    print(f"== Bayesian search, 50 evaluations, {len(seeds)} seeds ==")
    print(f"exhaustive grid ({points} points) best Sharpe {target:.4f}")
    samplers: dict[str, Callable[[], Run]] = {
        "stratopt bayesian": lambda: stratopt_run(backtester, "bayesian"),
        "stratopt random": lambda: stratopt_run(backtester, "random"),
        "optuna TPESampler": lambda: optuna_run(backtester, "TPESampler"),
        "optuna GPSampler": lambda: optuna_run(backtester, "GPSampler"),
    }
    per_iteration: dict[str, float] = {}
    for name, make in samplers.items():
        try:
            run = make()
            results = [run(seed) for seed in seeds]
        except ImportError as missing:
            print(f"{name:18s} not run: {missing}")
            continue
        gaps = [(target - best) / abs(target) for best, _, _ in results]
        per_iteration[name] = sum(o for _, o, _ in results) / sum(n for _, _, n in results)
        print(
            f"{name:18s} median gap {100 * statistics.median(gaps):5.1f}% "
            f"(worst {100 * max(gaps):5.1f}%), sampler {1000 * per_iteration[name]:7.1f} ms "
            "per iteration",
            flush=True,
        )
    ours = per_iteration["stratopt bayesian"]
    for name in ("optuna GPSampler", "optuna TPESampler"):
        if name in per_iteration:
            print(f"stratopt bayesian / {name} sampler time: {ours / per_iteration[name]:.2f}x")


if __name__ == "__main__":
    main()
