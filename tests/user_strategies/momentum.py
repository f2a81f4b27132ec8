"""An example user strategy, loaded as 'tests.user_strategies.momentum:Momentum'."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from stratopt.backtest.strategies import Parameter, Signals
from stratopt.data import MarketData

NOT_A_STRATEGY = object()


class Momentum:
    name = "momentum"
    parameters = (Parameter("lookback", "int", 20, 2, 500, "Bars of the momentum window."),)

    def warmup(self, params: Mapping[str, float]) -> int:
        return int(params["lookback"]) + 1

    def signals(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        lookback = int(params["lookback"])
        momentum = np.full(len(data), np.nan)
        momentum[lookback:] = data.close[lookback:] / data.close[:-lookback] - 1
        with np.errstate(invalid="ignore"):
            return Signals(momentum > 0.002, momentum < 0, momentum < -0.002, momentum > 0)
