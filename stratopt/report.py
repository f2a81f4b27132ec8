"""``stratopt report``: one self-contained HTML page of a finished run, with interactive
plotly charts that work offline (plotly.js is inlined once).

A source is a ``stratopt run --out`` directory or a resource on a cluster
(``optrun/NAME``, ``fa/NAME``, ``fcrun/NAME``), read through the user's kubeconfig.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from stratopt.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

#: What ``stratopt run --out`` writes beside status.yaml, telling each kind apart when
#: the directory predates resource.yaml.
_MARKERS = {
    "evaluations.csv": "OptimizationRun",
    "features.parquet": "FeatureAnalysis",
    "model.keras": "ForecastRun",
}


@dataclass(frozen=True)
class ReportSource:
    """What a report is drawn from."""

    kind: str
    name: str
    spec: dict[str, Any] | None
    status: dict[str, Any]
    evaluations: pd.DataFrame | None
    #: A forecast's one-step-ahead test predictions against the actuals.
    tested: pd.DataFrame | None = None
    #: Whether the report may re-run the spec: import its strategy and read its data.
    #: A results folder is read as data unless told (``--rerun``): it may come from anyone.
    rerun: bool = True


def load_source(
    source: str,
    *,
    namespace: str = "default",
    kubeconfig: str | None = None,
    rerun: bool = False,
) -> ReportSource:
    """The run at ``source``: a ``stratopt run --out`` directory (re-run only when
    ``rerun``) or ``KIND/NAME`` on a cluster."""
    path = Path(source)
    if path.is_dir():
        return replace(_from_directory(path), rerun=rerun)
    from stratopt.api.kinds import KINDS, kind_named

    named, slash, name = source.partition("/")
    kind = kind_named(named) if slash and name else None
    if kind is not None:
        return _from_cluster(kind, name, namespace, kubeconfig)
    forms = ", ".join(f"{crd.short_names[0]}/NAME" for crd in KINDS.values())
    raise InputError(
        "SOURCE",
        f"{source!r} is neither a directory nor KIND/NAME; give the --out directory of "
        f"`stratopt run`, or {forms} of a cluster's resource",
    )


def _from_directory(path: Path) -> ReportSource:
    from stratopt.api.kinds import DEFAULT_KIND, kind_of

    status_file = path / "status.yaml"
    if not status_file.is_file():
        raise InputError(
            "SOURCE", f"{path} holds no status.yaml; give a `stratopt run --out` directory"
        )
    status = _read_yaml(status_file)
    resource_file = path / "resource.yaml"
    if resource_file.is_file():
        resource = _read_yaml(resource_file)
        kind, spec = kind_of(resource), resource.get("spec")
        name = str(resource.get("metadata", {}).get("name", path.name))
        if kind not in _SECTION_KINDS or not isinstance(spec, dict):
            raise InputError("SOURCE", f"{resource_file} is not a stratopt resource")
    else:
        found = [kind for marker, kind in _MARKERS.items() if (path / marker).exists()]
        kind, spec, name = (found[0] if found else DEFAULT_KIND), None, path.name
    import pandas as pd

    evaluations = tested = None
    try:
        if (path / "evaluations.csv").is_file():
            evaluations = pd.read_csv(path / "evaluations.csv", index_col="evaluation")
        if (path / "test.csv").is_file():
            tested = pd.read_csv(path / "test.csv", index_col="timestamp", parse_dates=True)
    except (ValueError, KeyError, OSError) as exc:
        raise InputError("SOURCE", f"{path} holds a results file that cannot be read") from exc
    return ReportSource(kind, name, spec, status, evaluations, tested)


#: The kinds a report draws, and the most a results folder's YAML may hold.
_SECTION_KINDS = ("OptimizationRun", "FeatureAnalysis", "ForecastRun")
_LARGEST_YAML = 64 * 2**20


def _read_yaml(path: Path) -> dict[str, Any]:
    """A results folder's YAML file as a mapping, or an error naming the file."""
    from stratopt.api._parse import _StrictLoader

    try:
        if path.stat().st_size > _LARGEST_YAML:
            raise InputError("SOURCE", f"{path} is too large to be stratopt's results")
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError, OSError) as exc:
        raise InputError("SOURCE", f"{path} is not readable YAML; is it a results folder?") from exc
    if not isinstance(document, dict):
        raise InputError("SOURCE", f"{path} does not hold a mapping; is it a results folder?")
    return document


def _from_cluster(kind: str, name: str, namespace: str, kubeconfig: str | None) -> ReportSource:
    from kubernetes.client import ApiException

    from stratopt.client import Client, stored_evaluations

    cluster = Client(namespace, kubeconfig=kubeconfig)
    try:
        body = cluster.get(kind, name).body()
    except ApiException as exc:
        raise InputError(
            "SOURCE", f"cannot read {kind} {namespace}/{name}: {exc.reason} ({exc.status})"
        ) from exc
    status = body.get("status") or {}
    from stratopt.api.v1alpha1.status import Phase

    if status.get("phase") != Phase.SUCCEEDED:
        raise InputError(
            "SOURCE",
            f"{kind} {namespace}/{name} is {status.get('phase', 'not started')}, not "
            "Succeeded: a report needs a finished run",
        )
    evaluations = None
    if kind == "OptimizationRun":
        evaluations = stored_evaluations(cluster.api, namespace, name, body["spec"])
    return ReportSource(kind, name, body.get("spec"), status, evaluations)


def build_report(source: ReportSource) -> str:
    """The whole page: plotly.js once, then one section per chart."""
    from plotly.offline import get_plotlyjs

    sections = SECTIONS[source.kind](source)
    warnings = source.status.get("warnings") or []
    if warnings:
        items = "".join(f"<li>{html.escape(str(w))}</li>" for w in warnings)
        sections.insert(
            0,
            (
                "Warnings",
                f"{len(warnings)} thing{'s' if len(warnings) > 1 else ''} to know before "
                "trusting this result:",
                f"<ul class='warnings'>{items}</ul>",
            ),
        )
    body = "\n".join(
        f"<section><h2>{html.escape(title)}</h2>{_paragraphs(text)}{figure or ''}</section>"
        for title, text, figure in sections
    )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(source.kind)} {html.escape(source.name)}</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
        "section{margin-bottom:2em}table.picks{border-collapse:collapse}"
        "table.picks td,table.picks th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "ul.warnings{background:#fff4e5;border-left:4px solid #f0a030;padding:.5em 2em}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(source.kind)} {html.escape(source.name)}</h1>\n{body}</body></html>"
    )


def write_report(source: ReportSource, directory: str) -> Path:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    path.write_text(build_report(source), encoding="utf-8")
    return path


Section = tuple[str, str, str | None]


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{html.escape(line)}</p>" for line in text.split("\n") if line)


def _html(figure: Any) -> str:
    return str(figure.to_html(full_html=False, include_plotlyjs=False))


def _hover(parameters: dict[str, float]) -> str:
    return "<br>".join(f"{name} = {value:.6g}" for name, value in parameters.items())


def _optimization_sections(source: ReportSource) -> list[Section]:
    import plotly.graph_objects as go

    status, evaluations = source.status, source.evaluations
    front = status.get("paretoFront", [])
    objectives = list(front[0]["objectives"]) if front else []
    sections: list[Section] = []
    if objectives:
        sections.append(("Pareto front", _front_text(status), _html(_front_figure(source))))
    if _picks(status):
        sections.append(("Picks", _picks_text(status), _picks_table(status)))
    if evaluations is not None and len(evaluations):
        parameters = [c for c in evaluations.columns if c in _parameter_names(source)]
        columns = [*parameters, *[o for o in objectives if o not in parameters]]
        figure = go.Figure(
            go.Parcoords(
                line={"color": evaluations[objectives[0]], "colorscale": "Viridis"},
                dimensions=[{"label": c, "values": evaluations[c]} for c in columns],
            )
        )
        sections.append(
            (
                "Every evaluation",
                f"{len(evaluations)} evaluations; drag along an axis to filter.",
                _html(figure),
            )
        )
        importance = _importance(evaluations, parameters, objectives[0])
        if importance is not None:
            figure = go.Figure(
                go.Bar(x=list(importance.values()), y=list(importance), orientation="h")
            )
            figure.update_layout(xaxis_title=f"importance for {objectives[0]}")
            sections.append(
                (
                    "Parameter importance",
                    "How much each parameter explains the first objective across the "
                    "evaluations (a random forest's impurity importance, summing to 1).",
                    _html(figure),
                )
            )
    history = status.get("progress", {}).get("history", [])
    if history:
        figure = go.Figure()
        batches = [h["batch"] for h in history]
        figure.add_trace(
            go.Scatter(x=batches, y=[h.get("hypervolume") for h in history], name="hypervolume")
        )
        figure.add_trace(
            go.Scatter(
                x=batches,
                y=[h.get("bestObjective") for h in history],
                name=f"best {objectives[0] if objectives else ''}",
                yaxis="y2",
            )
        )
        figure.update_layout(
            xaxis_title="batch",
            yaxis_title="hypervolume",
            yaxis2={"overlaying": "y", "side": "right", "title": "best"},
        )
        sections.append(
            ("Optimization history", "Per batch, over everything so far.", _html(figure))
        )
    picked = _pick_sections(source)
    if picked:
        sections += picked
    elif _picks(status) and source.spec is not None:
        sections.append(
            (
                "Equity of the picks",
                "Not re-run: `stratopt report DIR --rerun` re-runs the picks, which imports "
                "the strategy and reads the data that the folder's resource.yaml names.",
                None,
            )
        )
    walk = status.get("walkForward")
    if walk:
        folds = walk["folds"]
        figure = go.Figure()
        for side, label in (("inSample", "in sample"), ("outOfSample", "out of sample")):
            figure.add_trace(
                go.Bar(
                    x=[f"fold {f['fold']}" for f in folds],
                    y=[f[side].get("sharpe_ratio") for f in folds],
                    name=label,
                )
            )
        figure.update_layout(yaxis_title="sharpe_ratio", barmode="group")
        sections.append(("Walk-forward folds", _walk_text(walk), _html(figure)))
        stitched = _stitched_figure(source, folds)
        if stitched is not None:
            sections.append(
                (
                    "Walk-forward equity",
                    "Out of sample: each fold's chosen parameters traded on its test window, "
                    "the windows stitched into one curve from the run's capital. In sample: "
                    "the same parameters on their training window, each from the capital, "
                    "for comparison. Dotted lines mark where each test window begins.",
                    stitched,
                )
            )
    diagnostics = status.get("diagnostics")
    if diagnostics:
        profitable = any(s["metrics"]["net_profit"] > 0 for s in front)
        sections.append(
            ("Overfitting diagnostics", _diagnostics_text(diagnostics, profitable), None)
        )
    return sections


#: The metrics of each pick in the picks table.
PICK_METRICS = ("net_profit", "max_drawdown", "sharpe_ratio", "num_trades", "win_rate")


def _picks_text(status: dict[str, Any]) -> str:
    text = (
        "Conservative: the least drawdown among the solutions that make money; balanced: "
        "the rank-1 trade-off; aggressive: the most profit. Robustness re-runs each pick "
        "with one more tick of slippage per fill and at neighbouring parameters."
    )
    note = (status.get("picks") or {}).get("note")
    return f"{text}\n{note[0].upper()}{note[1:]}." if note else text


def _picks_table(status: dict[str, Any]) -> str:
    """Every pick with its parameters, metrics, robustness and flags, as a table."""
    picks = _picks(status)
    robustness = status.get("robustness") or {}
    names = list(next(iter(picks.values()))["parameters"])
    headers = ["pick", *names, *PICK_METRICS, "one more tick", "neighbours median", "flags"]
    rows = []
    for label, pick in picks.items():
        found = robustness.get(label, {})
        objective = found.get("objective", "")
        median = found.get("neighbourhoodMedian")
        cells = [
            label,
            *(f"{pick['parameters'][n]:.6g}" for n in names),
            *(f"{pick['metrics'].get(m, 0):,.4g}" for m in PICK_METRICS),
            f"{objective} {found['friction'][objective]:,.4g}" if found else "",
            f"{objective} {median:,.4g}" if median is not None else "",
            "; ".join(pick.get("flags", [])),
        ]
        rows.append("".join(f"<td>{html.escape(c)}</td>" for c in cells))
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(f"<tr>{row}</tr>" for row in rows)
    return f"<table class='picks'><tr>{head}</tr>{body}</table>"


def _parameter_names(source: ReportSource) -> list[str]:
    if source.spec is not None:
        return [p["name"] for p in source.spec.get("parameters", [])]
    front = source.status.get("paretoFront", [])
    return list(front[0]["parameters"]) if front else []


def _front_text(status: dict[str, Any]) -> str:
    size = status.get("paretoFrontSize", len(status.get("paretoFront", [])))
    shown = len(status.get("paretoFront", []))
    text = f"{size} distinct solutions on the front"
    if shown < size:
        text += f" ({shown} shown, spread along the first objective)"
    best = status.get("best")
    if best:
        text += "; best: " + ", ".join(f"{k} = {v:.6g}" for k, v in best["parameters"].items())
    return text + "."


def _front_figure(source: ReportSource) -> Any:
    """The first two objectives against each other (a third as the colour), every
    evaluation behind the front, the picks marked; hovering shows the parameters."""
    import plotly.graph_objects as go

    front = source.status["paretoFront"]
    objectives = list(front[0]["objectives"])
    x, y = objectives[0], objectives[1] if len(objectives) > 1 else "max_drawdown"
    colour = objectives[2] if len(objectives) > 2 else None
    figure = go.Figure()
    evaluations = source.evaluations
    if evaluations is not None and {x, y} <= set(evaluations.columns):
        figure.add_trace(
            go.Scattergl(
                x=evaluations[x],
                y=evaluations[y],
                mode="markers",
                name="every evaluation",
                marker={"color": "lightgrey", "size": 4},
                hoverinfo="skip",
            )
        )
    marker: dict[str, Any] = {"size": 8, "color": "crimson"}
    if colour is not None:
        marker = {
            "size": 8,
            "color": [s["metrics"][colour] for s in front],
            "colorscale": "Viridis",
            "colorbar": {"title": colour},
        }
    figure.add_trace(
        go.Scatter(
            x=[s["metrics"][x] for s in front],
            y=[s["metrics"][y] for s in front],
            mode="markers",
            name="Pareto front",
            marker=marker,
            text=[_hover(s["parameters"]) for s in front],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    for label, pick in _picks(source.status).items():
        figure.add_trace(
            go.Scatter(
                x=[pick["metrics"][x]],
                y=[pick["metrics"][y]],
                mode="markers",
                name=label,
                marker={"size": 14, "symbol": "diamond", "line": {"width": 1}},
                text=[_hover(pick["parameters"])],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    figure.update_layout(
        xaxis_title=x, yaxis_title=y, height=550, legend={"orientation": "h", "y": -0.15}
    )
    return figure


def _importance(
    evaluations: pd.DataFrame, parameters: list[str], objective: str
) -> dict[str, float] | None:
    """Random-forest importance of each searched parameter for ``objective``."""
    if len(parameters) < 2 or len(evaluations) < 20 or objective not in evaluations:
        return None
    from sklearn.ensemble import RandomForestRegressor

    model = RandomForestRegressor(n_estimators=100, min_samples_leaf=3, random_state=0)
    model.fit(evaluations[parameters].to_numpy(), evaluations[objective].to_numpy())
    ranked = sorted(zip(parameters, model.feature_importances_, strict=True), key=lambda p: p[1])
    return {name: float(value) for name, value in ranked}


def _pick_sections(source: ReportSource) -> list[Section]:
    """The picks re-run from the spec: equity against buy-and-hold (log scale on a
    button) over drawdowns, the balanced pick's returns by year and month, and its trades'
    results and holding times. None of it without a spec to re-run."""
    picks = _picks(source.status)
    if source.spec is None or not picks or not source.rerun:
        return []
    import plotly.colors
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from stratopt.api import parse_model
    from stratopt.api.v1alpha1 import BacktestSpec
    from stratopt.backtest import Backtester
    from stratopt.backtest.ledger import buy_and_hold, equity_frame

    backtester = Backtester(parse_model(BacktestSpec, source.spec["backtest"], "spec.backtest"))
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3])
    curves = {label: equity_frame(backtester, pick["parameters"]) for label, pick in picks.items()}
    _, held = buy_and_hold(backtester)
    index = backtester.data.index
    step = max(1, len(index) // 2000)  # a few thousand points draw as well as all
    palette = plotly.colors.qualitative.Plotly
    for number, (label, curve) in enumerate(curves.items()):
        line = {"color": palette[number % len(palette)]}  # a pick's drawdown in its colour
        figure.add_trace(
            go.Scatter(
                x=curve.index[::step], y=curve["equity"].to_numpy()[::step], name=label, line=line
            ),
            row=1,
            col=1,
        )
        figure.add_trace(
            go.Scatter(
                x=curve.index[::step],
                y=-curve["drawdown"].to_numpy()[::step],
                name=f"{label} drawdown",
                showlegend=False,
                line=line,
            ),
            row=2,
            col=1,
        )
    figure.add_trace(
        go.Scatter(x=index[::step], y=held[::step], name="buy and hold", line={"dash": "dot"}),
        row=1,
        col=1,
    )
    scales = [
        {"label": scale, "method": "relayout", "args": [{"yaxis.type": scale}]}
        for scale in ("linear", "log")
    ]
    figure.update_layout(
        updatemenus=[{"buttons": scales, "direction": "right", "x": 0, "y": 1.12}],
        yaxis_title="equity",
        yaxis2_title="drawdown %",
        height=650,
    )
    benchmark = source.status.get("benchmark") or {}
    text = "Each pick re-run on the run's data, against holding the instrument"
    if benchmark:
        text += (
            f" (buy and hold: total return {benchmark['total_return']:.3g}%, Sharpe "
            f"{benchmark['sharpe_ratio']:.3g}, max drawdown {benchmark['max_drawdown']:.3g}%)"
        )
    sections: list[Section] = [("Equity of the picks", text + ".", _html(figure))]
    label = "balanced" if "balanced" in curves else next(iter(curves))
    sections.append(
        (
            "Returns by month",
            f"The {label} pick's return each month and each year, percent of the equity at "
            "its start.",
            _html(_returns_heatmap(curves[label]["equity"], backtester.spec.capital)),
        )
    )
    trades = backtester.run(picks[label]["parameters"]).trades
    if len(trades):
        held_bars = trades["exit_bar"] - trades["entry_bar"] + 1
        figure = make_subplots(rows=1, cols=2, subplot_titles=("profit and loss", "bars held"))
        figure.add_trace(go.Histogram(x=trades["pnl"], name="profit and loss"), row=1, col=1)
        figure.add_trace(go.Histogram(x=held_bars, name="bars held"), row=1, col=2)
        figure.update_layout(showlegend=False)
        sections.append(
            (
                "Trades",
                f"The {label} pick's {len(trades)} trades: their results after costs and how "
                "long each was held.",
                _html(figure),
            )
        )
    return sections


def _stitched_figure(source: ReportSource, folds: list[dict[str, Any]]) -> str | None:
    """The stitched out-of-sample equity of the folds against their in-sample fits,
    re-run from the spec (None without one)."""
    if source.spec is None or not source.rerun or not folds:
        return None
    import numpy as np
    import pandas as pd
    import plotly.graph_objects as go

    from stratopt.api import parse_model
    from stratopt.api.v1alpha1 import BacktestSpec
    from stratopt.backtest import Backtester
    from stratopt.optimize.walkforward import stitch_returns

    backtester = Backtester(parse_model(BacktestSpec, source.spec["backtest"], "spec.backtest"))
    index = backtester.data.index
    capital = backtester.spec.capital

    def window(first: str, last: str) -> tuple[int, int]:
        start = int(index.searchsorted(pd.Timestamp(first)))
        return start, int(index.searchsorted(pd.Timestamp(last), side="right"))

    tests = [window(f["testStart"], f["testEnd"]) for f in folds]
    curves = [
        backtester.run(f["parameters"], w).equity.to_numpy()
        for f, w in zip(folds, tests, strict=True)
    ]
    stitched = capital * np.cumprod(1 + stitch_returns(curves, capital))
    times = np.concatenate([index[a:b] for a, b in tests])
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=times, y=stitched, name="out of sample, stitched"))
    for number, fold in enumerate(folds):
        train = window(fold["trainStart"], fold["trainEnd"])
        fit = backtester.run(fold["parameters"], train).equity
        step = max(1, len(fit) // 500)
        figure.add_trace(
            go.Scatter(
                x=fit.index[::step],
                y=fit.to_numpy()[::step],
                name="in sample",
                legendgroup="in sample",
                showlegend=number == 0,
                line={"color": "lightgray"},
            )
        )
        figure.add_vline(x=index[tests[number][0]], line={"dash": "dot", "width": 1})
    figure.update_layout(yaxis_title="equity")
    return _html(figure)


def monthly_returns(equity: pd.Series, capital: float) -> pd.DataFrame:
    """Percent return of each calendar month (rows: years, columns: 1-12) and of each
    year (column "year"), each relative to the equity at its start."""
    import pandas as pd

    index = pd.DatetimeIndex(equity.index)
    naive = index.tz_convert(None) if index.tz is not None else index
    series = pd.Series(equity.to_numpy(), index=naive)

    def returns(period: str) -> pd.Series:
        ends = series.groupby(naive.to_period(period)).last()
        starts = ends.shift(1).fillna(capital)
        return 100 * (ends / starts - 1)

    monthly = returns("M")
    table = pd.DataFrame(
        {
            "year": [p.year for p in monthly.index],
            "month": [p.month for p in monthly.index],
            "value": monthly.to_numpy(),
        }
    ).pivot(index="year", columns="month", values="value")
    yearly = returns("Y")
    table["year"] = pd.Series(yearly.to_numpy(), index=[p.year for p in yearly.index])
    return table


def _returns_heatmap(equity: pd.Series, capital: float) -> Any:
    import plotly.graph_objects as go

    table = monthly_returns(equity, capital)
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    columns = [months[c - 1] if isinstance(c, int) else str(c) for c in table.columns]
    values = table.to_numpy()
    return go.Figure(
        go.Heatmap(
            z=values.tolist(),
            x=columns,
            y=[str(year) for year in table.index],
            colorscale="RdYlGn",
            zmid=0,
            texttemplate="%{z:.1f}",
            hovertemplate="%{y} %{x}: %{z:.2f}%<extra></extra>",
        )
    )


def _walk_text(walk: dict[str, Any]) -> str:
    folds, summary = walk["folds"], walk["summary"]
    partial = " (the last one partial: the data ends inside it)" if folds[-1].get("partial") else ""
    shown = ["net_profit", "cagr", "max_drawdown", "sharpe_ratio", "num_trades"]
    metrics = ", ".join(
        f"{k} {summary['metrics'][k]:,.4g}" for k in shown if k in summary.get("metrics", {})
    )
    return (
        f"{len(folds)} folds{partial}, tested from {folds[0]['testStart'][:10]} to "
        f"{folds[-1]['testEnd'][:10]}. Stitched out of sample: {metrics}; efficiency "
        f"{summary.get('efficiency', 0):.3g} (out-of-sample CAGR over the mean in-sample CAGR)."
    )


def _picks(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The picks that are set, by name."""
    picks = status.get("picks") or {}
    return {k: picks[k] for k in ("conservative", "balanced", "aggressive") if picks.get(k)}


def _diagnostics_text(diagnostics: dict[str, Any], profitable: bool) -> str:
    lines = []
    dsr = diagnostics.get("deflatedSharpe")
    if dsr is not None:
        lines.append(
            f"Deflated Sharpe ratio {dsr:.2f}: the probability that the best solution's "
            f"Sharpe ratio ({diagnostics.get('sharpe', 0):.3g}) beats the best that "
            f"{diagnostics.get('trials')} trials without skill would show by luck "
            f"({diagnostics.get('expectedMaxSharpe', 0):.3g}). "
            + ("It is likely real." if dsr >= 0.95 else "It may well be luck.")
        )
    pbo = diagnostics.get("pbo")
    if pbo is not None:
        lines.append(
            f"Probability of backtest overfitting {pbo:.2f}: in {pbo:.0%} of the ways of "
            f"splitting the bars into {diagnostics.get('pboBlocks')} blocks, the "
            "configuration best in sample ranked in the lower half out of sample. "
            + (
                "Selection is mostly overfitting."
                if pbo > 0.5
                else "Selection carries over out of sample"
                + (
                    ", but nothing on the front makes money: PBO judges the ranking, "
                    "not profitability."
                    if not profitable
                    else "."
                )
            )
        )
    return "\n".join(lines)


def _feature_sections(source: ReportSource) -> list[Section]:
    import plotly.graph_objects as go

    status = source.status
    features = list(reversed(status.get("features", [])))
    figure = go.Figure(
        go.Bar(
            x=[f["importance"] for f in features],
            y=[f["name"] for f in features],
            orientation="h",
            error_x={"type": "data", "array": [f["std"] for f in features]},
        )
    )
    metric = status.get("scoreMetric", "score")
    figure.update_layout(xaxis_title=f"importance (drop in held-out {metric})")
    text = (
        f"Model {metric} {status.get('modelScore', float('nan')):.4f} against a baseline of "
        f"{status.get('baselineScore', float('nan')):.4f}, out of sample; bars show the "
        "spread over repeats."
    )
    return [("Feature importance", text, _html(figure))]


def _add_band(figure: Any, x: Any, lower: Any, upper: Any) -> None:
    """The interval between ``lower`` and ``upper``, shaded, as one legend entry."""
    import plotly.graph_objects as go

    figure.add_trace(
        go.Scatter(x=x, y=upper, line={"width": 0}, showlegend=False, hoverinfo="skip")
    )
    figure.add_trace(go.Scatter(x=x, y=lower, fill="tonexty", line={"width": 0}, name="interval"))


def _forecast_sections(source: ReportSource) -> list[Section]:
    import pandas as pd
    import plotly.graph_objects as go

    status = source.status
    predictions = status.get("predictions", [])
    times = pd.to_datetime([p["timestamp"] for p in predictions])
    figure = go.Figure()
    if source.spec is not None and source.rerun:
        from stratopt.api import parse_model
        from stratopt.api.v1alpha1 import ForecastRunSpec
        from stratopt.data import load_market_data

        spec = parse_model(ForecastRunSpec, source.spec, "spec")
        data = load_market_data(spec.data, "spec.data")
        recent = slice(-5 * spec.horizon, None)
        figure.add_trace(
            go.Scatter(x=data.index[recent], y=getattr(data, spec.target)[recent], name="history")
        )
    _add_band(figure, times, [p["lower"] for p in predictions], [p["upper"] for p in predictions])
    figure.add_trace(go.Scatter(x=times, y=[p["value"] for p in predictions], name="forecast"))
    sections: list[Section] = []
    metrics = status.get("metrics") or {}
    nan = float("nan")
    text = (
        f"Test part: skill {metrics.get('skill', nan):+.3f} against the random walk (above 0 "
        f"beats it), interval coverage {metrics.get('intervalCoverage', nan):.3f}, mean "
        f"interval width {metrics.get('intervalWidth', nan):.4g}."
    )
    sections.append(("Forecast", text, _html(figure)))
    if source.tested is not None:
        tested = source.tested
        figure = go.Figure()
        _add_band(figure, tested.index, tested["lower"], tested["upper"])
        figure.add_trace(go.Scatter(x=tested.index, y=tested["actual"], name="actual"))
        figure.add_trace(go.Scatter(x=tested.index, y=tested["value"], name="forecast"))
        inside = (
            (tested["actual"] >= tested["lower"]) & (tested["actual"] <= tested["upper"])
        ).mean()
        sections.append(
            (
                "The test part",
                f"One bar ahead on the held-out bars: {inside:.1%} of the actuals inside "
                "the intervals, which widen and narrow with the volatility.",
                _html(figure),
            )
        )
    return sections


#: The sections of each kind's report.
SECTIONS: dict[str, Callable[[ReportSource], list[Section]]] = {
    "OptimizationRun": _optimization_sections,
    "FeatureAnalysis": _feature_sections,
    "ForecastRun": _forecast_sections,
}
