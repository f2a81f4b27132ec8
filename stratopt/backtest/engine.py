"""Run one backtest: a strategy with given parameters over market data.

:class:`Backtester` is built once per data set and spec, then evaluated many times
with different parameters; indicators and signals are cached on the data, so a grid
over stop-loss and take-profit computes the RSI once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from stratopt.api.v1alpha1 import BacktestSpec, FillConvention, StopUnit
from stratopt.backtest import _kernel as k
from stratopt.backtest.metrics import infeasible_metrics, metrics_from_stats
from stratopt.backtest.strategies import (
    InvalidParameters,
    Signals,
    Strategy,
    get_strategy,
    resolve_parameters,
)
from stratopt.backtest.strategies._base import signal_key
from stratopt.backtest.strategies._registry import USER_FAILURES, user_code_failure
from stratopt.data import MarketData, load_market_data
from stratopt.errors import DataError, InputError, StratoptError

if TYPE_CHECKING:
    import pandas as pd

_EMPTY_EQUITY = np.empty(0)
_EMPTY_TRADES = np.empty((0, k.TRADE_COLUMNS))
_EMPTY_BLOCKS = np.empty((0, 2))
_REASONS = {
    k.REASON_SIGNAL: "signal",
    k.REASON_STOP: "stop_loss",
    k.REASON_TAKE: "take_profit",
    k.REASON_END: "end",
}


class Trades(NamedTuple):
    """The trades of one evaluation, an element of each array a trade."""

    entry_bar: np.ndarray
    exit_bar: np.ndarray
    long: np.ndarray
    units: np.ndarray
    entry_price: np.ndarray
    exit_price: np.ndarray
    pnl: np.ndarray
    exit_reason: np.ndarray


@dataclass(frozen=True)
class BacktestResult:
    """Metrics plus the equity curve and trade list of one evaluation."""

    metrics: dict[str, float]
    equity: pd.Series
    trades: pd.DataFrame
    parameters: dict[str, float]


STRATEGY_FIELD = "spec.backtest.strategy.name"


def checked_signals(produced: object, bars: int, name: str) -> Signals:
    """The four signal arrays as the engine needs them: one boolean per bar each. A
    wrong length would make the engine read past the arrays, NaN would count as true."""
    if not isinstance(produced, tuple) or len(produced) != len(Signals._fields):
        raise InputError(
            STRATEGY_FIELD,
            f"strategy `{name}`: signals() must return Signals(long_entry, long_exit, "
            f"short_entry, short_exit); got {type(produced).__name__}",
        )
    arrays = []
    for label, array in zip(Signals._fields, produced, strict=True):
        values = np.asarray(array)
        problem = None
        if values.ndim != 1 or len(values) != bars:
            problem = f"has shape {values.shape} for {bars} bars; give one value per bar"
        elif values.dtype != np.bool_:
            if values.dtype.kind == "f" and np.isnan(values).any():
                problem = "holds NaN; decide every bar as True or False"
            elif values.dtype.kind not in "biu" or not np.isin(values, (0, 1)).all():
                problem = f"is {values.dtype}, not boolean; return True/False per bar"
        if problem is not None:
            raise InputError(STRATEGY_FIELD, f"strategy `{name}`: signals().{label} {problem}")
        arrays.append(np.ascontiguousarray(values, dtype=np.bool_))
    return Signals(*arrays)


#: Seconds one call of a strategy's signals() may take (STRATOPT_STRATEGY_TIMEOUT): far
#: past any real strategy's on any real data, short of a run that hangs for good.
STRATEGY_TIMEOUT = 600.0


class StrategyTimeout(InputError):
    """A strategy whose signals() did not return in time."""

    reason = "StrategyTimeout"


@contextlib.contextmanager
def time_limit(seconds: float, name: str) -> Iterator[None]:
    """Raise :class:`StrategyTimeout` if the block runs longer than ``seconds`` (in the
    main thread, where signals arrive; elsewhere the block runs unbounded)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise StrategyTimeout(
            STRATEGY_FIELD,
            f"strategy `{name}`: signals() ran past {seconds:g} s; make it faster, or raise "
            "STRATOPT_STRATEGY_TIMEOUT",
        )

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _inverse_tick(tick: float) -> float:
    inverse = 1.0 / tick
    nearest = round(inverse)
    return float(nearest) if abs(inverse - nearest) < 1e-9 * inverse else inverse


class Backtester:
    """Evaluates parameter sets of one strategy on one data set.

    Args:
        spec: the backtest spec (data, strategy, fixed parameters, capital, costs).
        data: market data already loaded; loaded from ``spec.data`` when omitted.

    Raises:
        InputError: unknown strategy or bad fixed parameters.
        DataError: unusable data, or fewer bars than the strategy needs.
    """

    def __init__(self, spec: BacktestSpec, data: MarketData | None = None) -> None:
        self.spec = spec
        self.strategy: Strategy = get_strategy(spec.strategy.name)
        self.base_parameters = resolve_parameters(self.strategy, spec.strategy.parameters)
        self.data = data if data is not None else load_market_data(spec.data)
        self._inv_tick = _inverse_tick(self.data.tick_size)
        self._cost_offset = (spec.costs.spread / 2.0 + spec.costs.slippage) * self.data.pip_size
        self.strategy_timeout = float(os.environ.get("STRATOPT_STRATEGY_TIMEOUT", STRATEGY_TIMEOUT))
        self.check_enough_bars(self.base_parameters)

    @property
    def cost_offset(self) -> float:
        """What each fill pays per unit in price for half the spread and the slippage."""
        return self._cost_offset

    def parameters(
        self, overrides: Mapping[str, object] | None = None, field: str = "parameters"
    ) -> dict[str, float]:
        """The full parameter set: defaults, then the spec's fixed values, then ``overrides``."""
        if not overrides:
            return dict(self.base_parameters)
        merged: dict[str, object] = {**self.base_parameters, **overrides}
        return resolve_parameters(self.strategy, merged, field)

    def unaffordable_lot(self, position_size: float) -> str | None:
        """Why no entry can fill at ``position_size``, if so: a trade's budget (capital ×
        leverage × position size) buys whole lots, and one lot costs more than that even
        at the data's lowest open or close (fills take one or the other), on the cheaper
        side of the spread."""
        spec = self.spec
        budget = spec.capital * spec.leverage * position_size
        lowest = float(min(np.min(self.data.open), np.min(self.data.close)))
        unit = lowest + lowest * spec.costs.commission - self._cost_offset
        if budget >= unit * spec.lot_size:
            return None
        return (
            f"no trade can open: capital {spec.capital:,.0f} × leverage {spec.leverage:g} × "
            f"position_size {position_size:g} is {budget:,.2f}, and one lot of "
            f"{spec.lot_size:g} units costs at least {unit * spec.lot_size:,.2f} (at the "
            f"lowest price, {lowest:.6g}); raise capital, leverage or position_size, or "
            "lower lotSize"
        )

    def check_enough_bars(self, params: Mapping[str, float], bars: int | None = None) -> None:
        """Raise :class:`DataError` when the data is shorter than the strategy's warm-up."""
        needed = self.warmup(params) + 2
        have = len(self.data) if bars is None else bars
        if have < needed:
            raise DataError(
                "spec.backtest.data",
                f"has {have} bars but strategy '{self.strategy.name}' needs at least {needed} "
                "with these parameters; use more data or shorter lookbacks",
            )

    def warmup(self, params: Mapping[str, float]) -> int:
        """The strategy's warm-up for ``params``: a whole number of bars, checked."""
        name = self.spec.strategy.name
        try:
            bars = self.strategy.warmup(params)
        except StratoptError:
            raise
        except (Exception, *USER_FAILURES) as exc:
            raise InputError(STRATEGY_FIELD, user_code_failure(name, exc, " in warmup()")) from exc
        if isinstance(bars, bool) or not isinstance(bars, int | np.integer) or bars < 0:
            raise InputError(
                STRATEGY_FIELD,
                f"strategy `{name}`: warmup() must return a whole number of bars, at least 0; "
                f"got {type(bars).__name__}",
            )
        return int(bars)

    def signals(self, params: Mapping[str, float]) -> Signals:
        """The strategy's signals for ``params``, checked and cached on the data."""
        value = self.data.cached(signal_key(self.strategy, params), lambda: self._signals(params))
        assert isinstance(value, Signals)
        return value

    def _signals(self, params: Mapping[str, float]) -> Signals:
        return self.signals_on(self.data, params)

    def signals_on(self, data: MarketData, params: Mapping[str, float]) -> Signals:
        """The strategy's signals for ``params`` on ``data`` (these bars or a slice of
        them), checked, uncached: what the probes compare."""
        try:
            with time_limit(self.strategy_timeout, self.spec.strategy.name):
                produced = self.strategy.signals(data, params)
        except StratoptError:
            raise
        except (Exception, *USER_FAILURES) as exc:
            raise InputError(
                STRATEGY_FIELD, user_code_failure(self.spec.strategy.name, exc)
            ) from exc
        return checked_signals(produced, len(data), self.spec.strategy.name)

    def _simulate(
        self,
        params: Mapping[str, float],
        start: int,
        end: int,
        equity_out: np.ndarray,
        trades_out: np.ndarray,
        blocks_out: np.ndarray = _EMPTY_BLOCKS,
    ) -> np.ndarray:
        spec, data = self.spec, self.data
        signals = self.signals(params)
        return k.simulate(
            data.open,
            data.high,
            data.low,
            data.close,
            signals.long_entry,
            signals.long_exit,
            signals.short_entry,
            signals.short_exit,
            start,
            end,
            float(params["stop_loss"]),
            float(params["take_profit"]),
            spec.stop_unit is StopUnit.PERCENT,
            data.pip_size,
            self._inv_tick,
            float(params["position_size"]),
            spec.capital,
            spec.leverage,
            spec.lot_size,
            spec.costs.commission,
            self._cost_offset,
            spec.fill is FillConvention.CLOSE,
            equity_out,
            trades_out,
            blocks_out,
        )

    def _window(self, window: tuple[int, int] | None) -> tuple[int, int]:
        start, end = window if window is not None else (0, len(self.data))
        if not 0 <= start < end <= len(self.data):
            raise ValueError(f"window {window} outside the data's {len(self.data)} bars")
        return start, end

    def _metrics(self, stats: np.ndarray, start: int, end: int) -> dict[str, float]:
        years = self.data.seconds_between(start, end - 1) / (365.25 * 86400)
        return metrics_from_stats(
            stats,
            capital=self.spec.capital,
            bars=end - start,
            years=years,
            periods_per_year=self.data.periods_per_year,
        )

    def evaluate(
        self, overrides: Mapping[str, object] | None = None, window: tuple[int, int] | None = None
    ) -> dict[str, float]:
        """Metrics of one parameter set, without recording the equity curve or trades.

        ``window`` = (start, end) bar indices restricts trading to those bars;
        indicators still see the bars before ``start`` (warm-up without look-ahead).
        """
        params = self.parameters(overrides)
        start, end = self._window(window)
        stats = self._simulate(params, start, end, _EMPTY_EQUITY, _EMPTY_TRADES)
        return self._metrics(stats, start, end)

    def evaluate_candidate(
        self, overrides: Mapping[str, object] | None = None, window: tuple[int, int] | None = None
    ) -> dict[str, float]:
        """:meth:`evaluate` as a search needs it: a combination the strategy refuses
        (:class:`InvalidParameters`) is an infeasible evaluation, not the end of the run."""
        try:
            return self.evaluate(overrides, window)
        except InvalidParameters:
            return infeasible_metrics()

    def evaluate_candidate_blocks(
        self,
        overrides: Mapping[str, object] | None,
        window: tuple[int, int] | None,
        blocks: int,
    ) -> tuple[dict[str, float], np.ndarray]:
        """:meth:`evaluate_blocks` as a search needs it (see :meth:`evaluate_candidate`);
        an infeasible evaluation's blocks hold no returns."""
        try:
            return self.evaluate_blocks(overrides, window, blocks)
        except InvalidParameters:
            return infeasible_metrics(), np.zeros((blocks, 3))

    def evaluate_blocks(
        self,
        overrides: Mapping[str, object] | None,
        window: tuple[int, int] | None,
        blocks: int,
    ) -> tuple[dict[str, float], np.ndarray]:
        """Metrics of one parameter set and, for each of ``blocks`` equal parts of the
        window, the (sum, sum of squares, count) of its bar returns: shape (blocks, 3).

        The Sharpe ratio of any union of blocks follows from these sums, which is all
        that overfitting diagnostics need, so a search keeps them instead of re-running.
        """
        params = self.parameters(overrides)
        start, end = self._window(window)
        sums = np.zeros((blocks, 2))
        stats = self._simulate(params, start, end, _EMPTY_EQUITY, _EMPTY_TRADES, sums)
        shorter, longer = divmod(end - start, blocks)
        counts = [shorter + 1] * longer + [shorter] * (blocks - longer)
        return self._metrics(stats, start, end), np.column_stack([sums, counts])

    def _record(
        self, params: dict[str, float], start: int, end: int
    ) -> tuple[np.ndarray, np.ndarray, Trades]:
        equity = np.zeros(end - start)
        rows = np.zeros((end - start, k.TRADE_COLUMNS))
        stats = self._simulate(params, start, end, equity, rows)
        rows = rows[: int(stats[k.S_TRADES])]
        trades = Trades(
            entry_bar=rows[:, k.T_ENTRY_BAR].astype(int),
            exit_bar=rows[:, k.T_EXIT_BAR].astype(int),
            long=rows[:, k.T_DIRECTION] > 0,
            units=rows[:, k.T_UNITS],
            entry_price=rows[:, k.T_ENTRY],
            exit_price=rows[:, k.T_EXIT],
            pnl=rows[:, k.T_PNL],
            exit_reason=np.array([_REASONS[r] for r in rows[:, k.T_REASON]], dtype=object),
        )
        return stats, equity, trades

    def record(
        self, overrides: Mapping[str, object] | None = None, window: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, Trades]:
        """Equity curve and trades of one parameter set, as arrays: :meth:`run` without
        the metrics and the pandas objects."""
        start, end = self._window(window)
        _, equity, trades = self._record(self.parameters(overrides), start, end)
        return equity, trades

    def run(
        self, overrides: Mapping[str, object] | None = None, window: tuple[int, int] | None = None
    ) -> BacktestResult:
        """Metrics, equity curve and trade list of one parameter set."""
        import pandas as pd

        params = self.parameters(overrides)
        start, end = self._window(window)
        stats, equity, trades = self._record(params, start, end)
        index = self.data.index
        trade_frame = pd.DataFrame(
            {
                "entry_time": index[trades.entry_bar],
                "exit_time": index[trades.exit_bar],
                "entry_bar": trades.entry_bar,
                "exit_bar": trades.exit_bar,
                "direction": np.where(trades.long, "long", "short"),
                "units": trades.units,
                "entry_price": trades.entry_price,
                "exit_price": trades.exit_price,
                "pnl": trades.pnl,
                "exit_reason": list(trades.exit_reason),
            }
        )
        return BacktestResult(
            metrics=self._metrics(stats, start, end),
            equity=pd.Series(equity, index=index[start:end], name="equity"),
            trades=trade_frame,
            parameters=params,
        )
