"""The sections of a FeatureAnalysis's and a ForecastRun's reports."""

from __future__ import annotations

from typing import Any

from stratopt.report.markup import Section, figure_html
from stratopt.report.source import ReportSource


def feature_sections(source: ReportSource) -> list[Section]:
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
    return [("Feature importance", text, figure_html(figure))]


def _add_band(figure: Any, x: Any, lower: Any, upper: Any) -> None:
    """The interval between ``lower`` and ``upper``, shaded, as one legend entry."""
    import plotly.graph_objects as go

    figure.add_trace(
        go.Scatter(x=x, y=upper, line={"width": 0}, showlegend=False, hoverinfo="skip")
    )
    figure.add_trace(go.Scatter(x=x, y=lower, fill="tonexty", line={"width": 0}, name="interval"))


def forecast_sections(source: ReportSource) -> list[Section]:
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
    sections.append(("Forecast", text, figure_html(figure)))
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
                figure_html(figure),
            )
        )
    return sections
