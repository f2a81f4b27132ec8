"""What ``stratopt run`` shows and writes: progress, result tables, files and plots."""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import yaml

from stratopt.startup import lazy_import

# What writing and printing use, imported when first used (see stratopt.startup).
if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pcsv
    from pydantic import BaseModel
    from rich import box as rich_box
    from rich import console as rich_console
    from rich import markup as rich_markup
    from rich import table as rich_table

    from stratopt import data as market_data
    from stratopt import features
    from stratopt.api import vocabulary
    from stratopt.api.v1alpha1 import (
        FeatureAnalysisSpec,
        FeatureAnalysisStatus,
        ForecastRunSpec,
        ForecastRunStatus,
        OptimizationRunSpec,
        OptimizationRunStatus,
    )
    from stratopt.backtest import Backtester
    from stratopt.backtest import ledger as ledgers
    from stratopt.data import MarketData
    from stratopt.forecast.lstm import LstmForecaster
    from stratopt.optimize import results
    from stratopt.optimize.results import BatchProgress
    from stratopt.runtime import OptimizationOutcome
else:
    pd = lazy_import("pandas")
    pa = lazy_import("pyarrow")
    pcsv = lazy_import("pyarrow.csv")
    rich_box = lazy_import("rich.box")
    rich_console = lazy_import("rich.console")
    rich_markup = lazy_import("rich.markup")
    rich_table = lazy_import("rich.table")
    features = lazy_import("stratopt.features")
    market_data = lazy_import("stratopt.data")
    ledgers = lazy_import("stratopt.backtest.ledger")
    results = lazy_import("stratopt.optimize.results")
    vocabulary = lazy_import("stratopt.api.vocabulary")


class ProgressReporter:
    """A progress bar on a terminal, plain lines on stderr otherwise (logs, CI)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.interactive = sys.stderr.isatty()
        self._started = time.monotonic()
        self._progress: Any = None
        self._task: Any = None
        self._last_line = 0.0

    def __enter__(self) -> ProgressReporter:
        if self.interactive:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total} evaluations"),
                TextColumn("{task.fields[detail]}"),
                TimeRemainingColumn(),
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=None, detail="")
        return self

    def update(self, progress: BatchProgress) -> None:
        done, planned = progress.evaluations, progress.planned
        parts = []
        if progress.generation is not None:
            parts.append(f"generation {progress.generation}")
        if progress.member is not None:
            parts.append(progress.member)
        if progress.best_objective is not None:
            parts.append(f"best {progress.best_objective:.4g}")
        if progress.hypervolume is not None:
            parts.append(f"hv {progress.hypervolume:.4g}")
        detail = ", ".join(parts)
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=planned, detail=detail)
            return
        now = time.monotonic()
        if now - self._last_line >= 2.0 or done >= planned:
            self._last_line = now
            elapsed = now - self._started
            print(
                f"[{self.label}] {done}/{planned} evaluations ({elapsed:.1f}s) {detail}",
                file=sys.stderr,
                flush=True,
            )

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


#: Front rows a terminal shows; --out's evaluations.csv holds every evaluation.
TABLE_ROWS = 20


def _number(value: float) -> str:
    """Four significant digits (whole numbers from a thousand on, grouped): the precision
    a person compares rows by; status and --out keep every digit."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _table(
    console: Any, title: str, columns: list[str], rows: list[list[str]], caption: str | None = None
) -> Any:
    """A table under full column names, whose names break at their underscores when the
    table would not fit the terminal, so that no name is cut short."""
    escape, table_of = rich_markup.escape, rich_table.Table

    # Names come from specs and strategies: "[/x]" is a parameter's name, not markup.
    title, caption = escape(title), None if caption is None else escape(caption)
    rows = [[escape(cell) for cell in row] for row in rows]

    def build(headers: list[str]) -> Any:
        table = table_of(
            *[escape(header) for header in headers],
            title=title,
            caption=caption,
            box=rich_box.SIMPLE_HEAD,
            title_justify="left",
            caption_justify="left",
        )
        for column in table.columns:
            column.justify = "right"
        table.columns[0].justify = "left"
        for row in rows:
            table.add_row(*row)
        return table

    table = build(columns)
    natural = console.measure(table, options=console.options.update(max_width=10**6))
    if natural.maximum > console.width:
        table = build([name.replace("_", "_\n") for name in columns])
    return table


def print_optimization(spec: OptimizationRunSpec, status: OptimizationRunStatus) -> None:
    """The front (or best point), the picks and the progress, as tables."""
    console = terminal()
    names = [r.name for r in spec.parameters]
    objectives = [o.name for o in spec.objectives]
    progress = status.progress
    console.print(
        f"[bold]{status.algorithm}[/bold]: {progress.evaluations_completed} "
        f"evaluations in {progress.batches_completed} batches; "
        f"Pareto front of {status.pareto_front_size} distinct solutions"
    )
    shown = results.spread(spec, status.pareto_front, TABLE_ROWS)
    title = "Pareto front" if len(objectives) > 1 else "Best"
    caption = None
    if len(shown) < status.pareto_front_size:
        title += f": {len(shown)} of {status.pareto_front_size}, spread along {objectives[0]}"
        caption = "every evaluation: --out DIR writes evaluations.csv"
        first = spec.objectives[0]
        shown.sort(
            key=lambda s: s.objectives[first.name],
            reverse=first.direction is vocabulary.Goal.MAXIMIZE,
        )
    rows = [
        [
            str(solution.rank),
            *(_number(solution.parameters[n]) for n in names),
            *(_number(solution.objectives[o]) for o in objectives),
            str(solution.count),  # parameter sets with these objective values
        ]
        for solution in shown
    ]
    console.print(_table(console, title, ["rank", *names, *objectives, "sets"], rows, caption))
    if status.picks is not None and len(objectives) > 1:
        metrics = ["net_profit", "max_drawdown", "sharpe_ratio"]
        rows = []
        for label in ("conservative", "balanced", "aggressive"):
            pick = getattr(status.picks, label)
            rows.append(
                [
                    label,
                    *(_number(pick.parameters[n]) for n in names),
                    *(_number(pick.metrics[m]) for m in metrics),
                ]
            )
        if status.benchmark is not None:  # what holding the instrument did, for comparison
            held = status.benchmark
            profit = spec.backtest.capital * held["total_return"] / 100
            rows.append(
                [
                    "buy and hold",
                    *("" for _ in names),
                    *(_number(v) for v in (profit, held["max_drawdown"], held["sharpe_ratio"])),
                ]
            )
        console.print(_table(console, "Picks", ["pick", *names, *metrics], rows))
    if status.robustness:
        _print_robustness(console, status)
    if status.walk_forward is not None:
        _print_walk_forward(console, status)
    if status.diagnostics is not None:
        _print_diagnostics(console, status)


def _print_robustness(console: Any, status: OptimizationRunStatus) -> None:
    """Each pick under one more tick of slippage and at neighbouring parameters."""
    rows = []
    same: dict[tuple[float, ...], list[str]] = {}
    for pick, found in status.robustness.items():
        same.setdefault(tuple(found.parameters.values()), []).append(pick)
    for picks in same.values():
        found = status.robustness[picks[0]]
        median, worst = found.neighbourhood_median, found.neighbourhood_worst
        rows.append(
            [
                " = ".join(picks),
                _number(found.value),
                _number(found.friction[found.objective]),
                "" if median is None else _number(median),
                "" if worst is None else _number(worst),
                f"{found.extreme_fill_profit_share:.0%}",
            ]
        )
    first = next(iter(status.robustness.values())).objective
    console.print(
        _table(
            console,
            f"Robustness of {first}",
            [
                "pick",
                "own",
                "one_more_tick",
                "neighbours_median",
                "neighbours_worst",
                "profit_at_bar_extremes",
            ],
            rows,
        )
    )


def _print_walk_forward(console: Any, status: OptimizationRunStatus) -> None:
    """The stitched out-of-sample result of the folds."""
    assert status.walk_forward is not None
    folds = status.walk_forward.folds
    summary = status.walk_forward.summary
    partial = " (the last one partial)" if folds and folds[-1].partial else ""
    shown = ["net_profit", "cagr", "max_drawdown", "sharpe_ratio", "num_trades"]
    rows = [[name, _number(summary.metrics[name])] for name in shown if name in summary.metrics]
    rows.append(["efficiency", _number(summary.efficiency)])
    console.print(
        f"Walk-forward: {len(folds)} folds{partial}, out of sample {folds[0].test_start[:10]} "
        f"to {folds[-1].test_end[:10]}"
    )
    console.print(_table(console, "", ["metric", "value"], rows))


def _print_diagnostics(console: Any, status: OptimizationRunStatus) -> None:
    """How much of the best result could be luck."""
    found = status.diagnostics
    assert found is not None
    verdict = "significant" if found.deflated_sharpe > 0.95 else "not significant"
    line = (
        f"deflated Sharpe {found.deflated_sharpe:.2f} ({verdict}: Sharpe {found.sharpe:.3g} "
        f"against {found.expected_max_sharpe:.3g} expected of the best of {found.trials} "
        "unskilled trials)"
    )
    if found.pbo is not None:
        line += f"; probability of backtest overfitting {found.pbo:.2f}"
    console.print(line)


#: Width of output that goes to a file or a pipe: no table is cut to a terminal's.
PIPE_WIDTH = 400


def terminal() -> Any:
    """A console for standard output; one that is not a terminal (a file, a CI log) is
    as wide as the tables need rather than cut to 80 columns, unless COLUMNS says how
    wide."""
    console = rich_console.Console()
    if console.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return console
    return rich_console.Console(width=PIPE_WIDTH)


def _output_directory(directory: str, status: BaseModel) -> Path:
    """``directory``, created if need be, with the run's status.yaml in it."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    document = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    (out / "status.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return out


def _pyplot() -> Any:
    """matplotlib's pyplot, drawing to files only (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_optimization(
    directory: str, spec: OptimizationRunSpec, outcome: OptimizationOutcome
) -> None:
    """status.yaml, evaluations.csv (every evaluation) and pareto.png under ``directory``."""
    out = _output_directory(directory, outcome.status)
    rows = [{**e.parameters, **e.metrics} for e in outcome.evaluations]
    pd.DataFrame(rows).to_csv(out / "evaluations.csv", index_label="evaluation")
    plot_pareto(out / "pareto.png", outcome)
    picks = outcome.status.picks
    if picks is not None and outcome.backtester is not None:
        for label in ("conservative", "balanced", "aggressive"):
            pick = getattr(picks, label)
            if pick is not None:
                write_ledger(out / "picks" / label, outcome.backtester, pick.parameters)


def write_ledger(folder: Path, backtester: Backtester, parameters: dict[str, float]) -> None:
    """trades.csv and equity.csv of one parameter set, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    trades, equity = ledgers.ledger(backtester, parameters)
    _write_csv(trades, folder / "trades.csv")
    _write_csv(equity.reset_index(), folder / "equity.csv")


def _write_csv(frame: Any, path: Path) -> None:
    """``frame`` as CSV through pyarrow's writer: a tenth of the time pandas' takes on a
    long equity curve."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pcsv.write_csv(table, path, pcsv.WriteOptions(quoting_style="needed"))


def plot_pareto(path: Path, outcome: OptimizationOutcome) -> None:
    """Profit against drawdown for every evaluation, coloured by Sharpe; front and picks."""
    plt = _pyplot()
    metrics = [e.metrics for e in outcome.evaluations]
    figure, axes = plt.subplots(figsize=(8, 5.5))
    scatter = axes.scatter(
        [m["max_drawdown"] for m in metrics],
        [m["net_profit"] for m in metrics],
        c=[m["sharpe_ratio"] for m in metrics],
        cmap="viridis",
        s=10,
        alpha=0.6,
    )
    figure.colorbar(scatter, label="sharpe_ratio")
    front = outcome.status.pareto_front
    axes.scatter(
        [s.metrics["max_drawdown"] for s in front],
        [s.metrics["net_profit"] for s in front],
        facecolors="none",
        edgecolors="black",
        s=40,
        label="Pareto front",
    )
    picks = outcome.status.picks
    if picks is not None:
        for label, marker in (("conservative", "s"), ("balanced", "*"), ("aggressive", "^")):
            pick = getattr(picks, label)
            axes.scatter(
                [pick.metrics["max_drawdown"]],
                [pick.metrics["net_profit"]],
                marker=marker,
                s=160,
                color="crimson",
                label=label,
                zorder=3,
            )
    axes.set_xlabel("max_drawdown (%)")
    axes.set_ylabel("net_profit")
    axes.legend(loc="best")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def print_features(status: FeatureAnalysisStatus) -> None:
    """The ranking and the scores."""
    console = terminal()
    console.print(
        f"model {status.score_metric} {status.model_score:.4f} vs baseline "
        f"{status.baseline_score:.4f} on {status.n_samples} samples, "
        f"{status.n_features} features (out of sample)"
    )
    rows = [[f.name, str(f.rank), _number(f.importance), _number(f.std)] for f in status.features]
    console.print(
        _table(console, "Feature importance", ["feature", "rank", "importance", "std"], rows)
    )


def write_features(
    directory: str, spec: FeatureAnalysisSpec, status: FeatureAnalysisStatus
) -> None:
    """status.yaml, features.parquet (the feature matrix) and importance.png."""
    out = _output_directory(directory, status)
    data = market_data.load_market_data(spec.data, "spec.data")
    matrix = pd.DataFrame(
        features.feature_matrix(data, spec.features), index=data.index, columns=spec.features
    )
    matrix.to_parquet(out / "features.parquet")
    ranked = list(reversed(status.features))
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 0.35 * len(ranked) + 1.5))
    axes.barh(
        [f.name for f in ranked],
        [f.importance for f in ranked],
        xerr=[f.std for f in ranked],
        color="steelblue",
    )
    axes.set_xlabel(f"importance (drop in held-out {status.score_metric})")
    axes.set_title(
        f"{status.score_metric} {status.model_score:.3f} vs baseline {status.baseline_score:.3f}"
    )
    figure.tight_layout()
    figure.savefig(out / "importance.png", dpi=110)
    plt.close(figure)


def print_forecast(status: ForecastRunStatus) -> None:
    """The forecast table and the test-part metrics."""
    console = terminal()
    metrics = status.metrics
    assert metrics is not None
    width = "" if metrics.interval_width is None else f", width {_number(metrics.interval_width)}"
    console.print(
        f"trained {status.epochs_run} epochs on {status.device} in "
        f"{status.training_seconds:.1f}s; test part: RMSE {metrics.rmse:.6g} vs naive "
        f"{metrics.naive_rmse:.6g} (skill {metrics.skill:+.3f}), directional accuracy "
        f"{metrics.directional_accuracy:.3f}, interval coverage "
        f"{metrics.interval_coverage:.3f}{width}"
    )
    # Prices keep six significant digits: a forecast moves in the fourth or fifth.
    rows = [
        [p.timestamp, str(p.step), f"{p.value:.6g}", f"{p.lower:.6g}", f"{p.upper:.6g}"]
        for p in status.predictions
    ]
    headers = ["timestamp", "step", "value", "lower", "upper"]
    console.print(_table(console, "Forecast", headers, rows))


def write_forecast(
    directory: str,
    spec: ForecastRunSpec,
    status: ForecastRunStatus,
    model: LstmForecaster,
    data: MarketData,
) -> None:
    """status.yaml, model.keras, test.csv (the test part's one-step forecasts against
    the actuals) and forecast.png (a fan chart)."""
    out = _output_directory(directory, status)
    model.model_.save(out / "model.keras")
    if model.test_predictions_ is not None:
        model.test_predictions_.to_csv(out / "test.csv")
    history = getattr(data, spec.target)[-5 * spec.horizon :]
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(9, 4.5))
    axes.plot(data.index[-len(history) :], history, color="black", label="history")
    times = pd.to_datetime([p.timestamp for p in status.predictions])
    axes.plot(times, [p.value for p in status.predictions], color="crimson", label="forecast")
    axes.fill_between(
        times,
        [p.lower for p in status.predictions],
        [p.upper for p in status.predictions],
        color="crimson",
        alpha=0.2,
        label=f"{spec.intervals.level:.0%} interval",
    )
    axes.legend(loc="best")
    axes.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(out / "forecast.png", dpi=110)
    plt.close(figure)
