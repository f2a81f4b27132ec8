"""The engine against vectorbt with fill-at-close, where both conventions coincide.

vectorbt's ``Portfolio.from_signals`` fills at the signal bar's close and sizes by a
fraction of cash in fractional units; our ``fill: close`` with a tiny lot size is the
same model. Without stops (vectorbt's intrabar stop rules differ), trades and the
equity curve must agree.
"""

from __future__ import annotations

import numpy as np
import pytest
import vectorbt as vbt

from stratopt.backtest import Backtester
from stratopt.backtest.strategies import get_strategy, resolve_parameters
from stratopt.data import MarketData
from tests.conftest import backtest_spec


@pytest.mark.parametrize("dataset", ["eurusd", "synthetic_hourly"])
@pytest.mark.parametrize("commission", [0.0, 0.0005])
def test_fill_at_close_matches_vectorbt(
    request: pytest.FixtureRequest, dataset: str, commission: float
) -> None:
    data: MarketData = request.getfixturevalue(dataset)
    given = {"stop_loss": 0, "take_profit": 0, "position_size": 0.5}
    spec = backtest_spec(
        fill="close",
        lotSize=1e-9,
        capital=100_000.0,
        costs={"commission": commission},
        strategy={"name": "rsi_reversion", "parameters": given},
    )
    ours = Backtester(spec, data).run()
    signals = get_strategy("rsi_reversion").signals(
        data, resolve_parameters(get_strategy("rsi_reversion"), given)
    )
    portfolio = vbt.Portfolio.from_signals(
        data.close,
        entries=signals.long_entry,
        exits=signals.long_exit,
        short_entries=signals.short_entry,
        short_exits=signals.short_exit,
        size=0.5,
        size_type="percent",
        fees=commission,
        init_cash=100_000.0,
        upon_opposite_entry="ignore",
        freq="1h",
    )
    records = portfolio.trades.records
    theirs = records[records["status"] == 1]  # closed trades
    closed = ours.trades[ours.trades.exit_reason != "end"]
    assert len(closed) >= 50
    assert len(closed) == len(theirs)
    np.testing.assert_array_equal(closed.entry_bar, theirs["entry_idx"])
    np.testing.assert_array_equal(closed.exit_bar, theirs["exit_idx"])
    np.testing.assert_array_equal(np.where(closed.direction == "long", 0, 1), theirs["direction"])
    np.testing.assert_allclose(closed.units, theirs["size"], rtol=1e-6)
    # The whole equity curve agrees; the last bar is left out because vectorbt may open a
    # trade on it, which our engine refuses (nothing can follow it).
    np.testing.assert_allclose(
        ours.equity.to_numpy()[:-1], portfolio.value().to_numpy()[:-1], rtol=1e-6
    )
