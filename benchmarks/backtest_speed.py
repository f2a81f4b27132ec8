"""Backtest speed: stratopt vs vectorbt vs backtesting.py, same data, one process.

Measures one ``rsi_reversion`` evaluation (stop-loss and take-profit on, signals already
computed, as inside an optimization) at 10k, 100k and 1M bars, and the 527-point grid
(stop_loss 20..80 step 2 × take_profit 40..200 step 10) on backtesting.py's EURUSD hourly
sample. Also reports the memory floor: the time numpy takes to read the same four OHLC
arrays once. Prints bars/second and ratios. Run: ``python benchmarks/backtest_speed.py``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

# backtesting.py draws a progress bar per run; set before tqdm is first imported.
os.environ.setdefault("TQDM_DISABLE", "1")

from stratopt.api.v1alpha1 import BacktestSpec
from stratopt.backtest import Backtester
from stratopt.data import MarketData, normalize_columns, synthesize_ohlcv

PARAMS = {
    "rsi_period": 14,
    "rsi_threshold": 30,
    "stop_loss": 38,
    "take_profit": 95,
    "position_size": 0.5,
}


def best_of(function: Callable[[], object], repeat: int, budget: float = 3.0) -> float:
    """Minimum wall time over ``repeat`` calls (fewer if they exceed ``budget`` seconds)."""
    times = []
    started = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        function()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - started > budget:
            break
    return min(times)


def stratopt_backtester(data: MarketData) -> Backtester:
    spec = BacktestSpec.model_validate(
        {
            "data": {"source": "synthetic:"},
            "capital": 100_000,
            "strategy": {"name": "rsi_reversion", "parameters": PARAMS},
        }
    )
    backtester = Backtester(spec, data)
    backtester.evaluate()  # compile and cache signals
    return backtester


def vectorbt_runner(data: MarketData, backtester: Backtester) -> Callable[..., object]:
    import vectorbt as vbt

    close = pd.Series(data.close, index=data.index)
    signals = [pd.Series(s, index=data.index) for s in backtester.signals(backtester.parameters())]
    frame = data.to_frame()

    def run(sl: object = 38 * data.pip_size, tp: object = 95 * data.pip_size) -> object:
        # vectorbt's stops are fractions of the entry price.
        portfolio = vbt.Portfolio.from_signals(
            close,
            entries=signals[0],
            exits=signals[1],
            short_entries=signals[2],
            short_exits=signals[3],
            open=frame["open"],
            high=frame["high"],
            low=frame["low"],
            sl_stop=np.asarray(sl) / close.iloc[0],
            tp_stop=np.asarray(tp) / close.iloc[0],
            size=0.5,
            size_type="percent",
            init_cash=100_000.0,
            freq="1h",
            upon_opposite_entry="ignore",
        )
        return portfolio.final_value()

    run()
    return run


def backtesting_runner(data: MarketData, backtester: Backtester) -> Callable[..., object]:
    from backtesting import Backtest, Strategy

    signals = backtester.signals(backtester.parameters())

    class Mirror(Strategy):  # type: ignore[misc]
        stop = 38 * data.pip_size
        take = 95 * data.pip_size

        def init(self) -> None:
            pass

        def next(self) -> None:
            i = len(self.data) - 1
            if self.position:
                long = self.position.is_long
                if (long and signals.long_exit[i]) or (not long and signals.short_exit[i]):
                    self.position.close()
            elif signals.long_entry[i]:
                price = self.data.Close[-1]
                self.buy(size=0.5, sl=price - self.stop, tp=price + self.take)
            elif signals.short_entry[i]:
                price = self.data.Close[-1]
                self.sell(size=0.5, sl=price + self.stop, tp=price - self.take)

    frame = data.to_frame().rename(columns=str.capitalize)

    def run(stop: float = Mirror.stop, take: float = Mirror.take) -> object:
        Mirror.stop, Mirror.take = stop, take
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Backtest(frame, Mirror, cash=100_000).run()["Equity Final [$]"]

    return run


def memory_floor(data: MarketData) -> float:
    arrays = (data.open, data.high, data.low, data.close)
    return best_of(lambda: sum(float(a.sum()) for a in arrays), 20)


def single_evaluations(sizes: list[int], with_backtesting: bool) -> list[dict[str, object]]:
    rows = []
    for bars in sizes:
        frame = synthesize_ohlcv(f"synthetic:gbm?bars={bars}&freq=1h&seed=7")
        data = MarketData.from_frame(frame, pip_size=0.0001, tick_size=0.00001)
        backtester = stratopt_backtester(data)
        ours = best_of(backtester.evaluate, 30)
        floor = memory_floor(data)
        theirs_vbt = best_of(vectorbt_runner(data, backtester), 5)
        row: dict[str, object] = {
            "bars": bars,
            "stratopt Mbar/s": bars / ours / 1e6,
            "vectorbt Mbar/s": bars / theirs_vbt / 1e6,
            "× vectorbt": theirs_vbt / ours,
            "× memory floor": ours / floor,
        }
        if with_backtesting:
            theirs_bt = best_of(backtesting_runner(data, backtester), 1, budget=0)
            row["backtesting.py Mbar/s"] = bars / theirs_bt / 1e6
            row["× backtesting.py"] = theirs_bt / ours
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, float_format="%.3g"), flush=True)
    return rows


def grid(with_backtesting: bool) -> dict[str, object]:
    from backtesting.test import EURUSD

    frame = normalize_columns(EURUSD.copy())
    data = MarketData.from_frame(frame, pip_size=0.0001, tick_size=0.00001)
    backtester = stratopt_backtester(data)
    stops = np.arange(20, 81, 2)
    takes = np.arange(40, 201, 10)
    points = [(float(s), float(t)) for s in stops for t in takes]
    assert len(points) == 527

    def ours() -> None:
        for stop, take in points:
            backtester.evaluate({"stop_loss": stop, "take_profit": take})

    ours_time = best_of(ours, 5)
    vbt_run = vectorbt_runner(data, backtester)
    sl = np.array([p[0] for p in points]) * data.pip_size
    tp = np.array([p[1] for p in points]) * data.pip_size
    vbt_time = best_of(lambda: vbt_run(sl[None, :], tp[None, :]), 2)
    result: dict[str, object] = {
        "grid points": 527,
        "bars": len(data),
        "stratopt s": ours_time,
        "vectorbt s (broadcast)": vbt_time,
        "× vectorbt": vbt_time / ours_time,
    }
    if with_backtesting:
        bt_run = backtesting_runner(data, backtester)
        t0 = time.perf_counter()
        for stop, take in points:
            bt_run(stop * data.pip_size, take * data.pip_size)
        bt_time = time.perf_counter() - t0
        result["backtesting.py s"] = bt_time
        result["× backtesting.py"] = bt_time / ours_time
    print(pd.DataFrame([result]).to_string(index=False, float_format="%.3g"), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--skip-backtesting-py",
        action="store_true",
        help="leave out backtesting.py (slow at 1M bars)",
    )
    args = parser.parse_args()
    print("== one rsi_reversion evaluation (signals precomputed) ==")
    single_evaluations(args.sizes, not args.skip_backtesting_py)
    print("\n== 527-point grid on EURUSD hourly ==")
    grid(not args.skip_backtesting_py)


if __name__ == "__main__":
    main()
