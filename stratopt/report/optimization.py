"""The sections of an OptimizationRun's report: the front, every evaluation, parameter
importance, the search's history, the picks and their robustness, walk-forward and the
overfitting diagnostics."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from stratopt.report.equity import pick_sections, stitched_figure
from stratopt.report.markup import Section, figure_html, hover, picks_of
from stratopt.report.source import ReportSource

if TYPE_CHECKING:
    import pandas as pd


def _evaluations_kept(status: dict[str, Any], shown: int) -> str:
    """How many evaluations the charts show, and of how many when the run kept a sample."""
    made = int(status.get("progress", {}).get("evaluationsCompleted") or shown)
    if shown < made:
        return (
            f"{shown} of {made} evaluations, an even sample over the search (all a finished "
            "run keeps on the cluster)"
        )
    return f"{shown} evaluations"


def optimization_sections(source: ReportSource) -> list[Section]:
    import plotly.graph_objects as go

    status, evaluations = source.status, source.evaluations
    front = status.get("paretoFront", [])
    objectives = list(front[0]["objectives"]) if front else []
    sections: list[Section] = []
    if objectives:
        sections.append(("Pareto front", _front_text(status), figure_html(_front_figure(source))))
    if picks_of(status):
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
                f"{_evaluations_kept(status, len(evaluations))}; drag along an axis to filter.",
                figure_html(figure),
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
                    figure_html(figure),
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
            ("Optimization history", "Per batch, over everything so far.", figure_html(figure))
        )
    picked = pick_sections(source)
    if picked:
        sections += picked
    elif picks_of(status) and source.spec is not None:
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
        sections.append(("Walk-forward folds", walk_text(walk), figure_html(figure)))
        stitched = stitched_figure(source, folds)
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
    picks = picks_of(status)
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
            text=[hover(s["parameters"]) for s in front],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    for label, pick in picks_of(source.status).items():
        figure.add_trace(
            go.Scatter(
                x=[pick["metrics"][x]],
                y=[pick["metrics"][y]],
                mode="markers",
                name=label,
                marker={"size": 14, "symbol": "diamond", "line": {"width": 1}},
                text=[hover(pick["parameters"])],
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


def walk_text(walk: dict[str, Any]) -> str:
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
