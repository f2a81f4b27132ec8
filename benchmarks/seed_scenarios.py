"""The four seed scenarios, end to end, and the quality of what they find.

Speed: ``stratopt run`` on each example (ten years of hourly synthetic FX, ~62,000
bars) as a user runs it from an installed package, wall time of the whole command and
its peak memory (the largest resident set of the command's processes), and ``stratopt
backtest`` on the same bars as a CSV file. Quality, on the same data:

* Bayesian optimization's best Sharpe after 50 evaluations against the best of a fine
  exhaustive grid over the same two parameters (relative gap, this seed; over several
  seeds and against Optuna, see ``benchmarks/bayesian.py``);
* the NSGA-II front's hypervolume against the front of an exhaustive search of the same
  grid, both normalized by the ideal and nadir points of their union. On the same grid,
  100% means NSGA-II found the whole true front. (With the steps left out it searches
  finer stops than the grid holds, and its front may pass the grid's: that compares the
  grids, not the search.)

Run: ``python benchmarks/seed_scenarios.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from stratopt.api.v1alpha1 import OptimizationRunSpec
from stratopt.optimize.pareto import hypervolume, non_dominated
from stratopt.runtime import run_optimization

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCENARIOS = {
    "grid 527": ("optimization-grid.yaml", 1.5),
    "random 100": ("optimization-random.yaml", 1.0),
    "NSGA-II 100×50": ("optimization-genetic.yaml", 4.0),
    "Bayesian 50": ("optimization-bayesian.yaml", 6.0),
}


def timed(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB of the command's largest process, and its stdout.

    Each command runs under a fresh Python parent, so RUSAGE_CHILDREN is its own."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "started = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True, check=True)\n"
        "seconds = time.perf_counter() - started\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(f'{seconds} {peak}', file=sys.stderr)\n"
        "sys.stdout.write(done.stdout)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *command], capture_output=True, text=True, check=True
    )
    seconds, peak = (float(v) for v in done.stderr.split()[-2:])
    return seconds, peak, done.stdout


def timed_run(example: str) -> tuple[float, float, dict[str, Any]]:
    command = [sys.executable, "-m", "stratopt.cli", "run", str(EXAMPLES / example)]
    seconds, peak, output = timed([*command, "-o", "json"])
    return seconds, peak, json.loads(output)


def timed_csv_backtest() -> float:
    """``stratopt backtest`` of the grid example's backtest, on its bars as a CSV file."""
    from stratopt.data import synthesize_ohlcv

    document = yaml.safe_load((EXAMPLES / "optimization-grid.yaml").read_text())
    with tempfile.TemporaryDirectory() as folder:
        bars = synthesize_ohlcv(document["spec"]["backtest"]["data"]["source"])
        bars.reset_index(names="timestamp").to_csv(Path(folder) / "bars.csv", index=False)
        document["spec"]["backtest"]["data"]["source"] = "bars.csv"
        spec = Path(folder) / "backtest.yaml"
        spec.write_text(yaml.safe_dump(document))
        seconds, _, _ = timed([sys.executable, "-m", "stratopt.cli", "backtest", str(spec)])
    return seconds


def spec_of(example: str, **changes: Any) -> OptimizationRunSpec:
    document = yaml.safe_load((EXAMPLES / example).read_text())["spec"]
    document.update(changes)
    return OptimizationRunSpec.model_validate(document)


def compile_bytecode() -> None:
    """Compile the package's modules, as installing its wheel does: an editable install
    run under PYTHONDONTWRITEBYTECODE compiles them from source in every command."""
    import compileall

    import stratopt

    compileall.compile_dir(Path(stratopt.__file__).parent, quiet=1)


def checks_seconds(example: str, status: dict[str, Any]) -> float:
    """Seconds the run's checks of its own answer take: the strategy's look-ahead and
    warm-up probes and the picks' robustness re-runs, timed alone in this process on
    the scenario's data (loaded and compiled beforehand, as in the run)."""
    import time

    from stratopt.api.v1alpha1 import Picks
    from stratopt.backtest import Backtester
    from stratopt.runtime.checks import probe_parameter_sets, probe_strategy
    from stratopt.runtime.robustness import pick_robustness

    spec = spec_of(example)
    backtester = Backtester(spec.backtest)
    backtester.evaluate()  # compiled and loaded, as the run is when it checks
    picks = Picks.model_validate(status["picks"])
    started = time.perf_counter()
    probe_strategy(backtester, probe_parameter_sets(spec, backtester))
    pick_robustness(spec, backtester, picks)
    return time.perf_counter() - started


def main() -> None:
    compile_bytecode()
    print("== speed: stratopt run, end to end ==")
    for name, (example, target) in SCENARIOS.items():
        seconds, peak, status = timed_run(example)
        checks = checks_seconds(example, status)
        print(
            f"{name:16s} {seconds:6.2f} s  (target <= {target} s, "
            f"{status['progress']['evaluationsCompleted']} evaluations, "
            f"peak RSS {peak:.0f} MiB); its checks {checks:.3f} s, "
            f"{100 * checks / seconds:.1f}% (target <= 5%)",
            flush=True,
        )
    seconds = timed_csv_backtest()
    print(f"{'backtest on CSV':16s} {seconds:6.2f} s  (target <= 1.0 s)", flush=True)

    print("\n== quality ==")
    fine_grid = [
        {"name": "stop_loss", "min": 20, "max": 80, "step": 1},
        {"name": "take_profit", "min": 40, "max": 200, "step": 2},
    ]
    exhaustive = run_optimization(
        spec_of(
            "optimization-bayesian.yaml",
            parameters=fine_grid,
            objectives=["sharpe_ratio", "net_profit", "max_drawdown"],
            algorithm={"name": "grid"},
        )
    ).evaluations
    grid_best = max(e.metrics["sharpe_ratio"] for e in exhaustive)
    bayes = run_optimization(spec_of("optimization-bayesian.yaml")).status
    assert bayes.best_objective_value is not None
    gap = (grid_best - bayes.best_objective_value) / abs(grid_best)
    print(
        f"Bayesian best Sharpe after 50: {bayes.best_objective_value:.4f}; exhaustive grid "
        f"({len(exhaustive)} points): {grid_best:.4f}; gap {100 * gap:.2f}% (median over 5 seeds "
        "<= 5%: benchmarks/bayesian.py)"
    )

    two_objectives = ["net_profit", "max_drawdown"]
    signs = np.array([-1.0, 1.0])
    # The genetic example's own market (it has a planted edge; the Bayesian one has none).
    exhaustive = run_optimization(
        spec_of(
            "optimization-genetic.yaml",
            parameters=fine_grid,
            objectives=two_objectives,
            algorithm={"name": "grid"},
        )
    ).evaluations
    points = np.array([[e.metrics[o] for o in two_objectives] for e in exhaustive]) * signs
    front = points[non_dominated(points)]
    nsga = run_optimization(
        spec_of("optimization-genetic.yaml", parameters=fine_grid, objectives=two_objectives)
    ).evaluations
    visited = len({tuple(e.parameters.values()) for e in nsga})
    found = np.array([[e.metrics[o] for o in two_objectives] for e in nsga]) * signs
    found = found[non_dominated(found)]
    # One normalization for both fronts: the ideal and nadir of their union.
    union = np.vstack([front, found])
    ideal, nadir = union.min(axis=0), union.max(axis=0)
    ratio = hypervolume(found, ideal, nadir) / hypervolume(front, ideal, nadir)
    print(
        f"NSGA-II front hypervolume / exhaustive front hypervolume, same grid: "
        f"{100 * ratio:.1f}% (target >= 98%), {visited} of {len(exhaustive)} grid points "
        f"evaluated"
    )


if __name__ == "__main__":
    main()
