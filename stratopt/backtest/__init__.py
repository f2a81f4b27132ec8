"""The backtesting core: indicators, strategies, the compiled engine and metrics."""

from stratopt.backtest.engine import Backtester, BacktestResult
from stratopt.backtest.metrics import METRIC_NAMES, METRICS, default_goal

__all__ = ["METRICS", "METRIC_NAMES", "BacktestResult", "Backtester", "default_goal"]
