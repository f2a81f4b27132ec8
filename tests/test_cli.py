"""The ``stratopt`` command as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from stratopt.backtest import METRIC_NAMES
from tests.conftest import EXAMPLES


def stratopt(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it, in ``env`` (default: this process's environment)."""
    return subprocess.run(
        [sys.executable, "-m", "stratopt.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def test_backtest_prints_every_metric_as_json() -> None:
    done = stratopt(
        "backtest",
        str(EXAMPLES / "optimization-genetic.yaml"),
        "--set",
        "stop_loss=38",
        "--set",
        "take_profit=95",
        "-o",
        "json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["metrics"]) == set(METRIC_NAMES)
    assert report["parameters"]["stop_loss"] == 38 and report["parameters"]["take_profit"] == 95
    assert report["bars"] == 62000 and report["metrics"]["num_trades"] > 100
    assert set(report["benchmark"]) == {"total_return", "cagr", "max_drawdown", "sharpe_ratio"}


def test_backtest_table_output() -> None:
    done = stratopt("backtest", str(EXAMPLES / "optimization-genetic.yaml"))
    assert done.returncode == 0, done.stderr
    for name in METRIC_NAMES:
        assert name in done.stdout


def test_errors_name_the_field_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "spec:\n  backtest:\n    data: {source: missing.csv}\n"
        "    strategy: {name: rsi_reversion}\n    capital: -5\n    costs: {comission: 0.1}\n"
    )
    done = stratopt("backtest", str(bad))
    assert done.returncode == 2
    assert "spec.backtest.capital: Input should be greater than 0" in done.stderr
    assert "spec.backtest.costs.comission: unknown field" in done.stderr
    bad.write_text(
        "spec:\n  backtest:\n    data: {source: missing.csv}\n    strategy: {name: rsi_reversion}\n"
    )
    done = stratopt("backtest", str(bad))
    assert done.returncode == 2
    missing = tmp_path / "missing.csv"  # relative paths are read next to the spec file
    assert f"spec.backtest.data.source: file not found: {missing}" in done.stderr
    done = stratopt("backtest", str(EXAMPLES / "optimization-genetic.yaml"), "--set", "stop_loss")
    assert done.returncode == 2 and "--set: expected NAME=VALUE" in done.stderr


def test_relative_data_paths_resolve_against_the_spec_files_folder(tmp_path: Path) -> None:
    import pandas as pd

    folder = tmp_path / "research"
    folder.mkdir()
    index = pd.date_range("2020-01-01", periods=400, freq="h")
    close = 1.1 + 0.001 * np.sin(np.arange(400) / 7)
    pd.DataFrame(
        {
            "timestamp": index,
            "open": close,
            "high": close + 1e-4,
            "low": close - 1e-4,
            "close": close,
        }
    ).to_csv(folder / "bars.csv", index=False)
    spec = folder / "backtest.yaml"
    spec.write_text(
        "spec:\n  backtest:\n    data: {source: bars.csv}\n    strategy: {name: rsi_reversion}\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "stratopt.cli", "backtest", str(spec), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=elsewhere,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["bars"] == 400


def test_a_run_keeps_blas_on_one_thread_unless_its_environment_says_otherwise() -> None:
    """A run's parallelism is its process pool: BLAS threads on every core beside it
    would spin after each small product."""
    probe = (
        "import atexit, sys\n"
        "def report():\n"
        "    from threadpoolctl import threadpool_info\n"
        "    blas = {i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}\n"
        "    print(sorted(blas), file=sys.stderr)\n"
        "atexit.register(report)\n"
        "sys.argv = ['stratopt', *sys.argv[1:]]\n"
        "from stratopt.cli import main\n"
        "main()\n"
    )
    command = [sys.executable, "-c", probe, "run", str(EXAMPLES / "optimization-random.yaml")]
    environ = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    for given, expected in ((None, "[1]"), ("2", "[2]")):
        env = environ if given is None else {**environ, "OPENBLAS_NUM_THREADS": given}
        done = subprocess.run(
            [*command, "-o", "json"], capture_output=True, text=True, timeout=300, env=env
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr.strip().splitlines()[-1] == expected, done.stderr


def test_a_backtest_checks_itself_as_a_run_does(tmp_path: Path) -> None:
    index = tmp_path / "index.yaml"
    index.write_text(
        "spec:\n  backtest:\n"
        "    data: {source: 'synthetic:gbm?bars=3000&freq=1d&seed=4&price=2000'}\n"
        "    strategy: {name: ema_crossover}\n"
    )
    done = stratopt("backtest", str(index), "-o", "json")
    assert done.returncode == 0, done.stderr
    # FX defaults on an index-like price: said on the terminal and in the report alike.
    report = json.loads(done.stdout)
    assert report["warnings"] and report["warnings"][0].startswith(
        "spec.backtest.data.pipSize: the default 0.0001 is an FX pip, but prices are around"
    )
    assert f"warning: {report['warnings'][0]}" in done.stderr


def test_a_backtest_of_a_combination_the_strategy_refuses_is_a_clear_error(
    tmp_path: Path,
) -> None:
    ema = tmp_path / "ema.yaml"
    ema.write_text(
        "spec:\n  backtest:\n    data: {source: 'synthetic:gbm?bars=2000&seed=4'}\n"
        "    strategy: {name: ema_crossover}\n"
    )
    done = stratopt("backtest", str(ema), "--set", "fast_period=30", "--set", "slow_period=20")
    assert done.returncode == 2
    assert (
        "spec.backtest.strategy.parameters.fast_period: must be below slow_period; got 30 >= 20"
        in done.stderr
    )


def test_output_to_a_pipe_is_not_cut_to_80_columns(tmp_path: Path) -> None:
    run = tmp_path / "wide.yaml"
    run.write_text(
        "kind: OptimizationRun\nspec:\n  seed: 2\n  backtest:\n"
        "    data: {source: 'synthetic:gbm?bars=3000&freq=1h&seed=4&reversion=0.05'}\n"
        "    strategy: {name: rsi_reversion}\n"
        "  parameters:\n"
        "    - {name: stop_loss, min: 20, max: 80}\n"
        "    - {name: take_profit, min: 20, max: 120}\n"
        "    - {name: position_size, min: 0.01, max: 0.05}\n"
        "  objectives: [net_profit, max_drawdown, sharpe_ratio]\n"
        "  algorithm: {name: random, random: {samples: 30}}\n"
        "  minTrades: 0\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = stratopt("run", str(run), env=environment)
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout, "a table cell was cut"
    widest = max(len(line.rstrip()) for line in done.stdout.splitlines())
    assert widest > 80, "the front's table is wider than a terminal's 80 columns"
    assert "position_size" in done.stdout and "sharpe_ratio" in done.stdout
    assert "buy and hold" in done.stdout, "the picks are shown beside holding the instrument"


def test_out_writes_each_picks_trades_and_equity(tmp_path: Path) -> None:
    import csv

    run = tmp_path / "run.yaml"
    run.write_text(
        "kind: OptimizationRun\nspec:\n  seed: 2\n  backtest:\n"
        "    data: {source: 'synthetic:gbm?bars=3000&freq=1h&seed=4&reversion=0.05'}\n"
        "    strategy: {name: rsi_reversion}\n    leverage: 10\n"
        "  parameters: [{name: stop_loss, min: 20, max: 80}]\n"
        "  objectives: [net_profit, max_drawdown]\n"
        "  algorithm: {name: random, random: {samples: 12}}\n"
    )
    done = stratopt("run", str(run), "-o", "json", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    for pick, solution in status["picks"].items():
        if not isinstance(solution, dict):
            continue
        folder = tmp_path / "out" / "picks" / pick
        with (folder / "trades.csv").open() as handle:
            trades = list(csv.DictReader(handle))
        assert len(trades) == solution["metrics"]["num_trades"]
        profit = sum(float(t["pnl"]) for t in trades)
        assert abs(profit - solution["metrics"]["net_profit"]) < 1e-6
        with (folder / "equity.csv").open() as handle:
            last = list(csv.DictReader(handle))[-1]
        assert abs(float(last["equity"]) - 100_000 - solution["metrics"]["net_profit"]) < 1e-6
    single = stratopt("backtest", str(run), "--out", str(tmp_path / "one"))
    assert single.returncode == 0, single.stderr
    assert {p.name for p in (tmp_path / "one").iterdir()} == {
        "backtest.yaml", "resource.yaml", "trades.csv", "equity.csv",
    }  # fmt: skip
