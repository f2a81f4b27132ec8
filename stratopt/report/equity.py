"""The sections that re-run a search's picks from its spec: their equity against
buy-and-hold, returns by month, trades, and walk-forward's stitched out-of-sample
equity."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stratopt.report.markup import Section, figure_html, picks_of
from stratopt.report.source import ReportSource

if TYPE_CHECKING:
    import pandas as pd


def pick_sections(source: ReportSource) -> list[Section]:
    """The picks re-run from the spec: equity against buy-and-hold (log scale on a
    button) over drawdowns, the balanced pick's returns by year and month, and its trades'
    results and holding times. None of it without a spec to re-run."""
    picks = picks_of(source.status)
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
    sections: list[Section] = [("Equity of the picks", text + ".", figure_html(figure))]
    label = "balanced" if "balanced" in curves else next(iter(curves))
    sections.append(
        (
            "Returns by month",
            f"The {label} pick's return each month and each year, percent of the equity at "
            "its start.",
            figure_html(_returns_heatmap(curves[label]["equity"], backtester.spec.capital)),
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
                figure_html(figure),
            )
        )
    return sections


def stitched_figure(source: ReportSource, folds: list[dict[str, Any]]) -> str | None:
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
    return figure_html(figure)


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
