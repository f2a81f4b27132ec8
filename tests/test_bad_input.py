"""Bad input, as users give it: every case exits with status 2 and one line naming the
field, what is wrong and how to fix it; none gives a traceback, exit 0 or a hang, and the
same input gives the same message with one worker or several."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from stratopt.cli import cli

Document = dict[str, Any]

OPTIMIZATION: Document = {
    "apiVersion": "stratopt.io/v1alpha1",
    "kind": "OptimizationRun",
    "metadata": {"name": "bad"},
    "spec": {
        "backtest": {
            "data": {"source": "synthetic:gbm?bars=3000&freq=1h&seed=7"},
            "strategy": {"name": "rsi_reversion"},
        },
        "parameters": [
            {"name": "stop_loss", "min": 20, "max": 80},
            {"name": "take_profit", "min": 40, "max": 200},
        ],
        "objectives": ["net_profit", "max_drawdown"],
        "algorithm": {"name": "nsga2", "nsga2": {"populationSize": 20, "generations": 1}},
    },
}
FEATURES: Document = {
    "apiVersion": "stratopt.io/v1alpha1",
    "kind": "FeatureAnalysis",
    "metadata": {"name": "bad"},
    "spec": {
        "data": {"source": "synthetic:gbm?bars=3000&freq=1h&seed=7"},
        "features": ["rsi_14", "return_5"],
        "model": {"name": "random_forest", "nEstimators": 10},
    },
}
FORECAST: Document = {
    "apiVersion": "stratopt.io/v1alpha1",
    "kind": "ForecastRun",
    "metadata": {"name": "bad"},
    "spec": {
        "data": {"source": "synthetic:gbm?bars=3000&freq=1h&seed=7"},
        "features": ["return_1", "rsi_14"],
        "training": {"epochs": 1},
    },
}


def bars(count: int = 300, **columns: Any) -> pd.DataFrame:
    """Plausible daily bars; ``columns`` replace or add columns."""
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, count)))
    frame = pd.DataFrame(
        {
            "Date": pd.date_range("2020-01-01", periods=count, freq="D").strftime("%Y-%m-%d"),
            "Open": close,
            "High": close * 1.01,
            "Low": close * 0.99,
            "Close": close,
            "Volume": 1000.0,
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


@dataclass
class Case:
    """One bad input: the document (or raw file text), the files it reads, and what the
    error must say."""

    id: str
    document: Document | str | bytes
    expected_field: str
    expected: str
    args: tuple[str, ...] = ()
    files: dict[str, pd.DataFrame | str | bytes] = field(default_factory=dict)
    command: str = "run"


def changed(base: Document, **paths: Any) -> Document:
    """``base`` with dotted ``paths`` (``spec__backtest__capital``) set; ``None`` deletes."""
    document = copy.deepcopy(base)
    for dotted, value in paths.items():
        *parents, last = dotted.split("__")
        node = document
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return document


def optimization(**paths: Any) -> Document:
    return changed(OPTIMIZATION, **paths)


def with_data(source: str, **paths: Any) -> Document:
    return optimization(spec__backtest__data__source=source, **paths)


def strategy(name: str) -> Document:
    return optimization(
        spec__backtest__strategy={"name": f"tests.user_strategies.{name}"},
        spec__parameters=[
            {"name": "lookback", "type": "int", "min": 2, "max": 20},
            {"name": "stop_loss", "min": 20, "max": 80},  # distinct points: a full batch
        ],
    )


def nsga2(**settings: Any) -> Document:
    return optimization(spec__algorithm={"name": "nsga2", "nsga2": settings})


def param(**fields: Any) -> Document:
    return optimization(spec__parameters=[{"name": "stop_loss", **fields}])


FILE_CASES = [
    Case("missing-spec-file", "@absent.yaml", "absent.yaml", "file not found"),
    Case("spec-file-is-a-folder", "@folder", "folder", "is a directory"),
    Case("not-utf8", b"spec: {name: \xff\xfe}\n", "spec.yaml", "is not UTF-8"),
    Case("not-yaml", "spec: [unclosed\n", "spec.yaml", "not valid YAML"),
    Case("duplicate-key", "spec: {}\nspec: {}\n", "spec.yaml", "duplicate key 'spec'"),
    Case("a-list", "- 1\n- 2\n", "spec.yaml: spec", "must be a resource"),
    Case("no-spec", "kind: OptimizationRun\n", "spec.yaml: spec", "must be a resource"),
    Case("spec-a-string", "spec: hello\n", "spec.yaml: spec", "must be a resource"),
    Case(
        "api-version",
        changed(OPTIMIZATION, apiVersion="stratopt.io/v9"),
        "spec.yaml: apiVersion",
        "must be stratopt.io/v1alpha1; got 'stratopt.io/v9'",
    ),
    Case("kind", changed(OPTIMIZATION, kind="Optimisation"), "spec.yaml: kind", "must be one of"),
    Case(
        "top-level-typo",
        changed(OPTIMIZATION, metdata={"name": "x"}),
        "spec.yaml: metdata",
        "unknown top-level field",
    ),
    Case(
        "metadata-a-list",
        changed(OPTIMIZATION, metadata=["x"]),
        "spec.yaml: metadata",
        "must be a mapping",
    ),
    Case("spec-typo", optimization(spec__algorthm={}), "spec.algorthm", "unknown field"),
]

PARAMETER_CASES = [
    Case("min-above-max", param(min=80, max=20), "spec.parameters[0]", "min must be less than"),
    Case(
        "categorical-without-values",
        param(type="categorical"),
        "spec.parameters[0]",
        "needs values",
    ),
    Case("log-from-zero", param(min=0, max=5, log=True), "spec.parameters[0]", "log scale"),
    Case("no-max", param(min=1), "spec.parameters[0]", "min and max are required"),
    Case("bad-type", param(type="decimal", min=1, max=2), "spec.parameters[0].type", "'int'"),
    Case("step-over-range", param(min=1, max=2, step=5), "spec.parameters[0]", "exceeds"),
    Case("negative-step", param(min=1, max=2, step=-1), "spec.parameters[0].step", "greater"),
    Case("empty", optimization(spec__parameters=[]), "spec.parameters", "at least 1"),
    Case(
        "duplicate",
        optimization(
            spec__parameters=[
                {"name": "stop_loss", "min": 1, "max": 2},
                {"name": "stop_loss", "min": 1, "max": 2},
            ]
        ),
        "spec.parameters",
        "'stop_loss' is listed more than once",
    ),
    Case(
        "unknown-name",
        optimization(spec__parameters=[{"name": "stop_los", "min": 1, "max": 2}]),
        "spec.parameters",
        "stop_los",
    ),
    Case(
        "fixed-value-out-of-bounds",
        optimization(
            spec__backtest__strategy={"name": "rsi_reversion", "parameters": {"rsi_period": 0}}
        ),
        "spec.backtest.strategy.parameters.rsi_period",
        "must be between",
    ),
    Case(
        "fixed-value-not-a-number",
        optimization(
            spec__backtest__strategy={"name": "rsi_reversion", "parameters": {"rsi_period": "x"}}
        ),
        "spec.backtest.strategy.parameters",
        "rsi_period",
    ),
    Case(
        "negative-capital",
        optimization(spec__backtest__capital=-5),
        "spec.backtest.capital",
        "greater than 0",
    ),
    Case(
        "cost-typo",
        optimization(spec__backtest__costs={"comission": 0.1}),
        "spec.backtest.costs.comission",
        "unknown field",
    ),
]

OBJECTIVE_CASES = [
    Case(
        "unknown-metric",
        optimization(spec__objectives=["profit"]),
        "spec.objectives[0].name",
        "unknown metric 'profit'",
    ),
    Case(
        "bad-goal",
        optimization(spec__objectives=[{"name": "sharpe_ratio", "goal": "up"}]),
        "spec.objectives[0].goal",
        "'maximize' or 'minimize'",
    ),
    Case(
        "repeated-objective",
        optimization(spec__objectives=["net_profit", "net_profit"]),
        "spec.objectives",
        "each metric may appear once",
    ),
    Case("no-objectives", optimization(spec__objectives=[]), "spec.objectives", "at least 1"),
    Case(
        "bayesian-two-objectives",
        optimization(spec__algorithm={"name": "bayesian"}),
        "spec.objectives",
        "bayesian optimizes exactly one objective",
    ),
    Case(
        "constraint-syntax",
        optimization(spec__constraints=["trades > 3"]),
        "spec.constraints",
        "must look like 'metric >= number'",
    ),
    Case(
        "constraint-metric",
        optimization(spec__constraints=[{"metric": "profit", "op": ">=", "value": 1}]),
        "spec.constraints[0].metric",
        "unknown metric",
    ),
    Case(
        "constraint-op",
        optimization(spec__constraints=[{"metric": "num_trades", "op": ">", "value": 1}]),
        "spec.constraints[0].op",
        "'>='",
    ),
]

ALGORITHM_CASES = [
    Case(
        "unknown-algorithm",
        optimization(spec__algorithm={"name": "annealing"}),
        "spec.algorithm.name",
        "'nsga2'",
    ),
    Case(
        "settings-of-another",
        optimization(spec__algorithm={"name": "nsga2", "grid": {"steps": 3}}),
        "spec.algorithm",
        "algorithm.grid is set but algorithm.name is 'nsga2'",
    ),
    Case(
        "tiny-population",
        nsga2(populationSize=2),
        "spec.algorithm.nsga2.populationSize",
        "greater than or equal to 4",
    ),
    Case(
        "huge-population",
        nsga2(populationSize=100_000),
        "spec.algorithm.nsga2.populationSize",
        "less than or equal to 10000",
    ),
    Case(
        "too-many-evaluations",
        nsga2(populationSize=5000, generations=100),
        "spec.algorithm.nsga2",
        "over the limit of 100,000",
    ),
    Case(
        "huge-grid",
        optimization(spec__algorithm={"name": "grid", "grid": {"steps": 1000}}),
        "spec.algorithm.grid.steps",
        "the grid has 1,000,000 points (about 1.9 GiB of results), over the limit of 100,000",
    ),
    Case(
        "huge-sample",
        optimization(spec__algorithm={"name": "random", "random": {"samples": 10**7}}),
        "spec.algorithm.random.samples",
        "less than or equal to 100000",
    ),
    Case(
        "bar-evaluations",
        with_data(
            "synthetic:gbm?bars=20000000",
            spec__algorithm={"name": "random", "random": {"samples": 100_000}},
        ),
        "spec.backtest.data.source",
        "bar-evaluations, over the limit",
    ),
    Case(
        "initial-points",
        optimization(
            spec__objectives=["sharpe_ratio"],
            spec__algorithm={"name": "bayesian", "bayesian": {"iterations": 5, "initialPoints": 9}},
        ),
        "spec.algorithm.bayesian",
        "must not exceed",
    ),
    Case(
        "ensemble-member",
        optimization(
            spec__algorithm={"name": "ensemble", "ensemble": {"members": [{"name": "cmaes"}]}}
        ),
        "spec.algorithm.ensemble.members[0].name",
        "'nsga2'",
    ),
    Case(
        "crossover-probability",
        nsga2(crossoverProbability=2),
        "spec.algorithm.nsga2.crossoverProbability",
        "less than or equal to 1",
    ),
    Case("negative-seed", optimization(spec__seed=-1), "spec.seed", "greater than or equal to 0"),
    Case(
        "zero-workers",
        optimization(spec__execution={"workers": 0}),
        "spec.execution.workers",
        "greater than or equal to 1",
    ),
    Case(
        "execution-mode",
        optimization(spec__execution={"mode": "cluster"}),
        "spec.execution.mode",
        "'auto'",
    ),
]

DATA_CASES = [
    Case("file-not-found", with_data("absent.csv"), "spec.backtest.data.source", "not found"),
    Case(
        "no-timestamp-column",
        with_data("bars.csv"),
        "spec.backtest.data.source",
        "no timestamp column found",
        files={"bars.csv": bars().drop(columns=["Date"])},
    ),
    Case(
        "not-a-date",
        with_data("bars.csv"),
        "spec.backtest.data.source",
        "column 'date' has a value that is not a date: 'soon' (row 4)",
        files={"bars.csv": bars(Date=[*bars()["Date"][:3], "soon", *bars()["Date"][4:]])},
    ),
    Case(
        "numbers-for-dates",
        with_data("bars.csv"),
        "spec.backtest.data.source",
        "holds numbers, not timestamps",
        files={"bars.csv": bars(Date=list(range(300)))},
    ),
    Case(
        "missing-close",
        with_data("bars.csv"),
        "spec.backtest.data.source",
        "missing column(s) ['close']",
        files={"bars.csv": bars().drop(columns=["Close"])},
    ),
    Case(
        "nan-close",
        with_data("bars.csv"),
        "spec.backtest.data.source",
        "column 'close' has 1 NaN value(s), first at 2020-01-11",
        files={"bars.csv": bars(Close=[*bars()["Close"][:10], np.nan, *bars()["Close"][11:]])},
    ),
    Case(
        "unsorted",
        with_data("bars.csv"),
        "spec.backtest.data.source",
        "timestamps are not sorted",
        files={"bars.csv": bars().iloc[::-1]},
    ),
    Case(
        "duplicate-bars",
        with_data("bars.csv"),
        "spec.backtest.data.source",
        "duplicate timestamp",
        files={"bars.csv": pd.concat([bars(), bars().iloc[-1:]])},
    ),
    Case(
        "zero-price",
        with_data("bars.csv"),
        "spec.backtest.data.source",
        "non-positive price",
        files={"bars.csv": bars(Low=[0.0] * 300)},
    ),
    Case(
        "high-below-low",
        with_data("bars.csv"),
        "spec.backtest.data.source",
        "high < low",
        files={"bars.csv": bars(High=[1.0] * 300)},
    ),
    Case(
        "close-above-high",
        with_data("bars.csv"),
        "spec.backtest.data.source",
        "close outside the bar's low-high range",
        files={"bars.csv": bars(Close=[1000.0] * 300)},
    ),
    Case(
        "text-prices",
        with_data("bars.csv"),
        "spec.backtest.data.source",
        "column 'open' is not numeric: 'twelve' at 2020-01-01",
        files={"bars.csv": bars(Open=["twelve"] * 300)},
    ),
    Case(
        "start-after-the-data",
        with_data("bars.csv", spec__backtest__data__start="2030-01-01"),
        "spec.backtest.data.start",
        "leaves 0 bars: the data runs from 2020-01-01",
        files={"bars.csv": bars()},
    ),
    Case(
        "end-before-the-data",
        with_data("bars.csv", spec__backtest__data__end="2010-01-01"),
        "spec.backtest.data.end",
        "leaves 0 bars",
        files={"bars.csv": bars()},
    ),
    Case(
        "offset-on-naive-data",
        with_data("bars.csv", spec__backtest__data__start="2020-02-01T00:00:00+02:00"),
        "spec.backtest.data.start",
        "has a UTC offset but the data's timestamps have none",
        files={"bars.csv": bars()},
    ),
    Case(
        "start-after-end",
        with_data(
            "bars.csv",
            spec__backtest__data__start="2021-01-01",
            spec__backtest__data__end="2020-01-01",
        ),
        "spec.backtest.data",
        "data.start must be before data.end",
    ),
    Case(
        "too-few-bars",
        with_data("synthetic:gbm?bars=10"),
        "spec.backtest.data",
        "has 10 bars but strategy 'rsi_reversion' needs at least",
    ),
    Case(
        "empty-csv",
        with_data("bars.csv"),
        "spec.backtest.data.source",
        "cannot read",
        files={"bars.csv": ""},
    ),
    Case(
        "synthetic-kind",
        with_data("synthetic:brownian"),
        "spec.backtest.data.source",
        "unknown synthetic kind",
    ),
    Case(
        "synthetic-option",
        with_data("synthetic:gbm?barz=10"),
        "spec.backtest.data.source",
        "unknown synthetic option 'barz'",
    ),
    Case(
        "synthetic-bars",
        with_data("synthetic:gbm?bars=ten"),
        "spec.backtest.data.source",
        "bars='ten' must be a whole number",
    ),
    Case(
        "synthetic-zero-freq",
        with_data("synthetic:gbm?freq=0h"),
        "spec.backtest.data.source",
        "freq='0h' must be positive",
    ),
    Case(
        "synthetic-freq",
        with_data("synthetic:gbm?freq=banana"),
        "spec.backtest.data.source",
        "freq='banana' must be a duration",
    ),
    Case(
        "pip-size",
        optimization(spec__backtest__data__pipSize=0),
        "spec.backtest.data.pipSize",
        "greater than or equal to 0.000000000001",
    ),
]

STRATEGY_CASES = [
    Case(
        "unknown-strategy",
        optimization(spec__backtest__strategy={"name": "rsi"}),
        "spec.backtest.strategy.name",
        "unknown strategy 'rsi'",
    ),
    Case(
        "module-missing",
        strategy("absent:X"),
        "spec.backtest.strategy.name",
        "cannot import module 'tests.user_strategies.absent'",
    ),
    Case(
        "attribute-missing",
        strategy("momentum:Missing"),
        "spec.backtest.strategy.name",
        "has no attribute 'Missing'",
    ),
    Case(
        "not-a-strategy",
        strategy("momentum:NOT_A_STRATEGY"),
        "spec.backtest.strategy.name",
        "is not a strategy",
    ),
    Case(
        "fails-at-import",
        strategy("broken_import:Anything"),
        "spec.backtest.strategy.name",
        "raised RuntimeError at import: the strategy's settings file is missing (at ",
    ),
    Case(
        "needs-arguments",
        strategy("faulty:NeedsArguments"),
        "spec.backtest.strategy.name",
        "cannot be built without arguments",
    ),
]
#: Failures that happen while evaluating: checked with one worker and with two.
EVALUATION_CASES = [
    Case(
        "signals-raise",
        strategy("faulty:Raises"),
        "spec.backtest.strategy.name",
        "strategy `tests.user_strategies.faulty:Raises` raised ValueError: lookback window "
        "is empty (at ",
    ),
    Case(
        "short-signals",
        strategy("faulty:ShortSignals"),
        "spec.backtest.strategy.name",
        "signals().long_entry has shape (2990,) for 3000 bars",
    ),
    Case(
        "nan-signals",
        strategy("faulty:NanSignals"),
        "spec.backtest.strategy.name",
        "signals().long_entry holds NaN",
    ),
    Case(
        "float-signals",
        strategy("faulty:FloatSignals"),
        "spec.backtest.strategy.name",
        "signals().long_entry is float64, not boolean",
    ),
    Case(
        "list-signals",
        strategy("faulty:ListSignals"),
        "spec.backtest.strategy.name",
        "signals() must return Signals(long_entry, long_exit, short_entry, short_exit); got list",
    ),
]

WALK_FORWARD = {"train": "300h", "test": "100h"}
WALK_FORWARD_CASES = [
    Case(
        "window-words",
        optimization(spec__walkForward={"train": "3 years", "test": "6mo"}),
        "spec.walkForward.train",
        "a bar count or a duration like 3y",
    ),
    Case(
        "window-one-bar",
        optimization(spec__walkForward={"train": 1, "test": "6mo"}),
        "spec.walkForward.train",
        "must be from 2 to 10^9 bars; got 1",
    ),
    Case(
        "select",
        optimization(spec__walkForward={**WALK_FORWARD, "select": "sharpe_ratio"}),
        "spec.walkForward.select",
        "must be one of ['balanced', 'best', 'max_drawdown', 'net_profit']; got 'sharpe_ratio'",
    ),
    Case(
        "zero-folds",
        optimization(spec__walkForward={**WALK_FORWARD, "folds": 0}),
        "spec.walkForward.folds",
        "greater than or equal to 1",
    ),
    Case(
        "window-typo",
        optimization(spec__walkForward={**WALK_FORWARD, "trian": "3y"}),
        "spec.walkForward.trian",
        "unknown field",
    ),
    Case(
        "train-longer-than-data",
        optimization(spec__walkForward={"train": "10y", "test": "1y"}),
        "spec.walkForward",
        "no fold fits in 3000 bars with train '10y' and test '1y'",
    ),
]

FEATURE_CASES = [
    Case(
        "unknown-feature",
        changed(FEATURES, spec__features=["rsi_14", "moon_phase"]),
        "spec.features",
        "moon_phase",
    ),
    Case(
        "duplicate-feature",
        changed(FEATURES, spec__features=["rsi_14", "rsi_14"]),
        "spec.features",
        "'rsi_14' is listed more than once",
    ),
    Case("top-k", changed(FEATURES, spec__topK=0), "spec.topK", "greater than or equal to 1"),
    Case(
        "gap-below-horizon",
        changed(FEATURES, spec__validation={"gap": 1}, spec__target={"horizon": 5}),
        "spec",
        "validation.gap (1) must be at least target.horizon (5)",
    ),
    Case(
        "model",
        changed(FEATURES, spec__model={"name": "xgboost"}),
        "spec.model.name",
        "random_forest",
    ),
    Case(
        "feature-data",
        changed(FEATURES, spec__data={"source": "absent.parquet"}),
        "spec.data.source",
        "not found",
    ),
    Case("no-features", changed(FEATURES, spec__features=[]), "spec.features", "at least 1"),
]

FORECAST_CASES = [
    Case(
        "two-feature-sources",
        changed(FORECAST, spec__fromFeatureAnalysis="status.yaml"),
        "spec",
        "set features or fromFeatureAnalysis, not both",
    ),
    Case(
        "analysis-missing",
        changed(FORECAST, spec__features=None, spec__fromFeatureAnalysis="absent"),
        "spec.fromFeatureAnalysis",
        "names FeatureAnalysis 'absent', which is not among the resources given",
    ),
    Case(
        "sequence-longer-than-data",
        changed(
            FORECAST,
            spec__sequenceLength=1900,
            spec__horizon=1000,
            spec__data={"source": "synthetic:gbm?bars=2500"},
        ),
        "spec.sequenceLength",
        "need more than 2900 bars, and the data has 2500",
    ),
    Case(
        "duplicate-input",
        changed(FORECAST, spec__features=["rsi_14", "rsi_14"]),
        "spec.features",
        "'rsi_14' is listed more than once",
    ),
    Case("horizon", changed(FORECAST, spec__horizon=0), "spec.horizon", "greater than or equal"),
    Case(
        "interval-level",
        changed(FORECAST, spec__intervals={"level": 1.5}),
        "spec.intervals.level",
        "less than",
    ),
]

CLI_CASES = [
    Case(
        "workers-zero", OPTIMIZATION, "--workers", "0 is not in the range", args=("--workers", "0")
    ),
    Case(
        "output-format",
        OPTIMIZATION,
        "'-o' / '--output'",
        "'csv' is not one of",
        args=("-o", "csv"),
    ),
    Case(
        "out-unwritable",
        OPTIMIZATION,
        "--out",
        "cannot write into '/proc/stratopt-out'",
        args=("--out", "/proc/stratopt-out"),
    ),
    Case(
        "out-a-file",
        OPTIMIZATION,
        "--out",
        "'taken' is a file",
        args=("--out", "taken"),
        files={"taken": "a file"},
    ),
    Case(
        "set-syntax",
        OPTIMIZATION,
        "--set",
        "expected NAME=VALUE; got 'stop_loss'",
        args=("--set", "stop_loss"),
        command="backtest",
    ),
    Case(
        "set-value",
        OPTIMIZATION,
        "--set stop_loss",
        "value must be a number; got 'far'",
        args=("--set", "stop_loss=far"),
        command="backtest",
    ),
    Case(
        "set-unknown",
        OPTIMIZATION,
        "--set",
        "stop_los",
        args=("--set", "stop_los=3"),
        command="backtest",
    ),
]

CASES = [
    *FILE_CASES,
    *PARAMETER_CASES,
    *OBJECTIVE_CASES,
    *ALGORITHM_CASES,
    *DATA_CASES,
    *STRATEGY_CASES,
    *WALK_FORWARD_CASES,
    *FEATURE_CASES,
    *FORECAST_CASES,
    *CLI_CASES,
]


def invoke(case: Case, folder: Path, workers: str | None = None) -> Any:
    """Run ``stratopt`` on the case in ``folder`` (its working directory)."""
    (folder / "folder").mkdir(exist_ok=True)
    for name, content in case.files.items():
        path = folder / name
        if isinstance(content, pd.DataFrame):
            content.to_csv(path, index=False)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    if isinstance(case.document, str) and case.document.startswith("@"):
        spec = case.document[1:]
    else:
        spec = "spec.yaml"
        if isinstance(case.document, bytes):
            (folder / spec).write_bytes(case.document)
        elif isinstance(case.document, str):
            (folder / spec).write_text(case.document)
        else:
            (folder / spec).write_text(yaml.safe_dump(case.document))
    options = ("--workers", workers) if workers is not None else ()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        return CliRunner().invoke(cli, [case.command, spec, *case.args, *options])


def assert_refused(result: Any, case: Case) -> str:
    output = result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), f"{case.id}: raised {result.exception!r}"
    assert "Traceback" not in output, output
    assert result.exit_code == 2, f"{case.id}: exit {result.exit_code}\n{output}"
    assert case.expected_field in output, f"{case.id}: no {case.expected_field!r} in\n{output}"
    assert case.expected in output, f"{case.id}: no {case.expected!r} in\n{output}"
    return str(output)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_with_the_field_named(case: Case, tmp_path: Path) -> None:
    assert_refused(invoke(case, tmp_path), case)


@pytest.mark.parametrize("case", EVALUATION_CASES, ids=[case.id for case in EVALUATION_CASES])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_user_code_failures_read_the_same_with_any_number_of_workers(
    case: Case, workers: str, tmp_path: Path
) -> None:
    message = assert_refused(invoke(case, tmp_path, workers), case)
    assert "stratopt/" not in message.split("(at ")[-1], "the frame must be the user's"


@pytest.mark.parametrize(
    ("document", "warning"),
    [
        pytest.param(strategy("faulty:Never"), "no evaluation traded", id="never-trades"),
        pytest.param(
            optimization(spec__constraints=["num_trades >= 1000000"]),
            "no evaluation met every constraint; the front holds the least violating ones",
            id="infeasible",
        ),
        pytest.param(
            optimization(spec__walkForward={"train": 2000, "test": 900}),
            "walk-forward made one fold",
            id="one-fold",
        ),
    ],
)
def test_degenerate_answers_are_said_out_loud(
    document: Document, warning: str, tmp_path: Path
) -> None:
    result = invoke(Case("degenerate", document, "", "", args=("-o", "json")), tmp_path)
    assert result.exit_code == 0, result.output
    assert f"warning: {warning}" in result.stderr
    status = yaml.safe_load(result.stdout)
    assert any(warning in line for line in status["warnings"]), status["warnings"]
    assert status["paretoFront"], "a degenerate answer still reports what it found"


@pytest.mark.filterwarnings("default::stratopt.errors.DataNotice")
def test_adjusted_prices_are_an_explicit_choice_and_the_output_says_which(tmp_path: Path) -> None:
    frame = bars()
    frame["Adj Close"] = frame["Close"] * 0.5  # a 2:1 split, back-adjusted
    files: dict[str, pd.DataFrame | str | bytes] = {"bars.csv": frame}
    plain = Case("plain", with_data("bars.csv"), "", "", files=files, command="backtest")
    result = invoke(replace(plain, args=("-o", "json")), tmp_path)
    assert result.exit_code == 0, result.output
    assert "note: spec.backtest.data.source: trading the unadjusted 'Close'" in result.stderr
    adjusted = replace(
        plain,
        document=with_data("bars.csv", spec__backtest__data__adjusted=True),
        args=("-o", "json"),
    )
    result = invoke(adjusted, tmp_path)
    assert result.exit_code == 0, result.output
    assert "note:" not in result.stderr
    # The same as trading a file whose prices were adjusted beforehand.
    scaled = bars()
    for name in ("Open", "High", "Low", "Close"):
        scaled[name] = scaled[name] * 0.5
    by_hand = invoke(replace(plain, files={"bars.csv": scaled}, args=("-o", "json")), tmp_path)
    assert yaml.safe_load(result.stdout)["metrics"] == yaml.safe_load(by_hand.stdout)["metrics"]
    missing = replace(
        adjusted, files={"bars.csv": bars()}, expected_field="spec.backtest.data.adjusted"
    )
    assert_refused(
        invoke(replace(missing, expected="has no 'Adj Close' column"), tmp_path), missing
    )


def test_fx_defaults_on_an_index_are_called_out(tmp_path: Path) -> None:
    frame = bars()
    for name in ("Open", "High", "Low", "Close"):
        frame[name] = frame[name] * 45  # an index around 4,500 points
    document = with_data(
        "index.csv",
        spec__parameters=[
            {"name": "stop_loss", "min": 0.005, "max": 0.05},
            {"name": "take_profit", "min": 40, "max": 200},
        ],
    )
    result = invoke(
        Case("index", document, "", "", args=("-o", "json"), files={"index.csv": frame}), tmp_path
    )
    assert result.exit_code == 0, result.output
    warnings = yaml.safe_load(result.stdout)["warnings"]
    assert any(
        w.startswith("spec.backtest.data.pipSize: the default 0.0001 is an FX pip")
        for w in warnings
    ), warnings
    assert any(
        w.startswith("stop_loss of 0.005 pips is 5e-07, under one tick") for w in warnings
    ), warnings
    explicit = changed(document, spec__backtest__data__pipSize=1)
    result = invoke(
        Case("points", explicit, "", "", args=("-o", "json"), files={"index.csv": frame}), tmp_path
    )
    assert result.exit_code == 0, result.output
    warnings = yaml.safe_load(result.stdout)["warnings"]
    assert not any(w.startswith("spec.backtest.data.pipSize") for w in warnings), warnings
    assert any(w.startswith("spec.backtest.data.tickSize: not set") for w in warnings), warnings


def test_a_budget_that_buys_no_lot_is_named_by_run_and_backtest(tmp_path: Path) -> None:
    document = optimization(spec__backtest__capital=1000, spec__backtest__lotSize=100000)
    for command, args in (("run", ("-o", "json")), ("backtest", ())):
        case = Case(f"no-lot-{command}", document, "", "", args=args, command=command)
        result = invoke(case, tmp_path)
        assert result.exit_code == 0, result.output
        assert "no trade can open: capital 1,000 × leverage" in result.output, result.output
        assert "lower lotSize" in result.output
