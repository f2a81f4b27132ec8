"""Each command imports what its job needs and nothing heavier: a backtest or a grid
search on synthetic data or on a plain CSV file loads no pandas, scipy.linalg, scipy.stats,
scipy.signal, scikit-learn, scikit-optimize, plotting, cluster client or C parser (numba's
cffi support); only searches, files and options that use them pay for them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stratopt.data import synthesize_ohlcv

HEAVY = [
    "pandas",
    "scipy.linalg",
    "scipy.stats",
    "scipy.signal",
    "scipy.optimize",
    "sklearn",
    "skopt",
    "pymoo",
    "matplotlib",
    "tensorflow",
    "kubernetes",
    "kopf",
    "pycparser",
]
PROBE = (
    "import sys, json\n"
    "from stratopt.cli import cli\n"
    "try:\n    cli(sys.argv[1:], standalone_mode=False)\n"
    "finally:\n"
    f"    print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)\n"
)
SPEC = """\
apiVersion: stratopt.io/v1alpha1
kind: OptimizationRun
metadata: {{name: imports}}
spec:
  backtest:
    data: {{source: {source}}}
    strategy: {{name: rsi_reversion}}
  parameters:
    - {{name: stop_loss, type: float, min: 20, max: 80, step: 30}}
    - {{name: take_profit, type: int, min: 40, max: 100}}
  objectives: {objectives}
  algorithm: {algorithm}
"""


def imported(
    folder: Path,
    source: str,
    algorithm: str,
    *command: str,
    objectives: str = "[net_profit, max_drawdown]",
) -> list[str]:
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.format(source=source, algorithm=algorithm, objectives=objectives))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *command, str(spec), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return found


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("imports")
    bars = synthesize_ohlcv("synthetic:gbm?bars=1500&freq=1h&seed=3")
    bars.reset_index(names="timestamp").to_csv(path / "bars.csv", index=False)
    return path


def test_a_backtest_on_a_csv_imports_nothing_heavy(folder: Path) -> None:
    assert imported(folder, "bars.csv", "{name: grid, grid: {steps: 3}}", "backtest") == []


def test_a_grid_on_a_csv_imports_only_the_front_tools(folder: Path) -> None:
    found = imported(folder, "bars.csv", "{name: grid, grid: {steps: 3}}", "run")
    assert found == ["pymoo"]


def test_a_random_search_on_synthetic_data_needs_neither_pandas_nor_scipy(folder: Path) -> None:
    source = "'synthetic:gbm?bars=1500&freq=1h&seed=3&reversion=0.05'"
    found = imported(folder, source, "{name: random, random: {samples: 8, sampler: random}}", "run")
    assert found == ["pymoo"]


def test_the_search_libraries_load_only_for_their_algorithms(folder: Path) -> None:
    sobol = "{name: random, random: {samples: 8, sampler: sobol}}"
    assert "scipy.stats" not in imported(folder, "bars.csv", sobol, "run")
    lhs = "{name: random, random: {samples: 8, sampler: lhs}}"
    assert "scipy.stats" in imported(folder, "bars.csv", lhs, "run")
    bayesian = "{name: bayesian, bayesian: {iterations: 4, initialPoints: 3}}"
    found = imported(folder, "bars.csv", bayesian, "run", objectives="[sharpe_ratio]")
    assert {"skopt", "sklearn"} <= set(found) and "tensorflow" not in found
