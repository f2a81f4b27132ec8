"""The compiled bar loop. Pure numba; called through :mod:`stratopt.backtest.engine`.

Conventions (documented for users in the README):

* Signals are decided on a bar's close. With ``fill_at_close`` false (the default) they
  fill at the next bar's open; otherwise at that bar's close.
* One position at a time. Exits are taken before entries; no same-bar reversal.
* Stop-loss and take-profit levels sit at a distance from the raw fill price, rounded
  to the tick. They are checked against each bar's low and high from the entry bar on
  (with ``fill_at_close``, from the next bar). When both could hit in one bar the stop
  is assumed to hit first. A bar that opens beyond a level fills at the open.
* Each fill pays ``cost_offset`` (half spread + slippage, in price units) adversely, and
  ``commission`` × notional. Units are rounded down to a multiple of ``lot_size``.
* A position still open at the end of the window is closed at the last close.
"""

from __future__ import annotations

import numpy as np

from stratopt._jit import njit

# Columns of the trade records.
T_ENTRY_BAR, T_EXIT_BAR, T_DIRECTION, T_UNITS, T_ENTRY, T_EXIT, T_PNL, T_REASON = range(8)
TRADE_COLUMNS = 8
REASON_SIGNAL, REASON_STOP, REASON_TAKE, REASON_END = 0.0, 1.0, 2.0, 3.0

# Slots of the statistics vector the kernel returns.
(
    S_FINAL_EQUITY,
    S_MAX_DRAWDOWN,
    S_SUM_RETURN,
    S_SUM_RETURN_SQ,
    S_SUM_DOWNSIDE_SQ,
    S_RETURNS,
    S_TRADES,
    S_WINS,
    S_GROSS_PROFIT,
    S_GROSS_LOSS,
    S_BARS_IN_MARKET,
) = range(11)
STATS_SIZE = 11


@njit(cache=True, inline="always", error_model="numpy")
def _round_to_tick(price: float, inv_tick: float) -> float:  # pragma: no cover
    # Dividing an integer by the exact inverse tick (e.g. 100000.0) yields the double
    # nearest to the decimal level, the same double a CSV quote of that level parses to.
    if inv_tick <= 0.0:
        return price
    return float(np.round(price * inv_tick) / inv_tick)


@njit(cache=True, inline="always", error_model="numpy")
def _levels(
    raw: float,
    side: int,
    stop_loss: float,
    take_profit: float,
    stops_in_percent: bool,
    pip_size: float,
    inv_tick: float,
) -> tuple[float, float]:  # pragma: no cover
    """Stop and take-profit levels around a raw fill price (0.0 where disabled)."""
    distance_stop = raw * stop_loss / 100.0 if stops_in_percent else stop_loss * pip_size
    distance_take = raw * take_profit / 100.0 if stops_in_percent else take_profit * pip_size
    stop = _round_to_tick(raw - side * distance_stop, inv_tick) if stop_loss > 0 else 0.0
    take = _round_to_tick(raw + side * distance_take, inv_tick) if take_profit > 0 else 0.0
    return stop, take


@njit(cache=True, inline="always", error_model="numpy")
def _floor_div(numerator: float, denominator: float) -> float:  # pragma: no cover
    """``numerator // denominator`` as Python computes it, at the cost of a division.

    Python's float ``//`` goes through ``fmod``, about 20 ns. A quotient that is not a
    whole number has the same floor as the exact one: rounding moves it by at most half
    an ulp, never across a whole number it does not land on. Only a whole quotient may
    have been rounded up from just below, so it takes Python's path, as do quotients
    beyond 2**52, where Python's result is rounded differently.
    """
    quotient = numerator / denominator
    whole = np.floor(quotient)
    if whole != quotient and abs(quotient) < 4503599627370496.0:
        return float(whole)
    return numerator // denominator


# error_model="numpy": divisions skip the zero checks Python semantics would add per bar.
@njit(cache=True, error_model="numpy")
def simulate(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    long_entry: np.ndarray,
    long_exit: np.ndarray,
    short_entry: np.ndarray,
    short_exit: np.ndarray,
    start: int,
    end: int,
    stop_loss: float,
    take_profit: float,
    stops_in_percent: bool,
    pip_size: float,
    inv_tick: float,
    position_size: float,
    capital: float,
    leverage: float,
    lot_size: float,
    commission: float,
    cost_offset: float,
    fill_at_close: bool,
    equity_out: np.ndarray,
    trades_out: np.ndarray,
    blocks_out: np.ndarray,
) -> np.ndarray:  # pragma: no cover
    """Simulate bars ``start``..``end - 1``; return the statistics vector.

    ``equity_out`` (length ``end - start``) and ``trades_out`` (rows × 8) are filled when
    non-empty; pass empty arrays to skip recording in tight optimization loops.
    ``blocks_out`` (blocks × 2, zeroed), when non-empty, receives the sum and the sum of
    squares of the bar returns (the first bar's against ``capital``) of each of its
    blocks, split as ``numpy.array_split`` splits the window.
    """
    bars = close.shape[0]
    prices_fit = open_.shape[0] == bars and high.shape[0] == bars and low.shape[0] == bars
    longs_fit = long_entry.shape[0] == bars and long_exit.shape[0] == bars
    shorts_fit = short_entry.shape[0] == bars and short_exit.shape[0] == bars
    if not (prices_fit and longs_fit and shorts_fit):
        raise ValueError("simulate: every price and signal array needs one value per bar")
    if not 0 <= start < end <= bars:
        raise ValueError("simulate: the window must lie within the bars")
    if equity_out.shape[0] not in (0, end - start):
        raise ValueError("simulate: equity_out needs one slot per bar of the window")
    if 0 < trades_out.shape[0] < end - start:
        raise ValueError("simulate: trades_out needs a row per bar of the window")
    record_equity = equity_out.shape[0] > 0
    record_trades = trades_out.shape[0] > 0
    n_blocks = blocks_out.shape[0]
    if n_blocks > end - start or (n_blocks > 0 and blocks_out.shape[1] != 2):
        raise ValueError("simulate: blocks_out needs at most one block per bar, two columns")
    # array_split's blocks: the first `longer` of them hold one bar more.
    block_bars = (end - start) // n_blocks if n_blocks > 0 else 0
    longer = (end - start) % n_blocks if n_blocks > 0 else 0
    block = 0
    block_end = start + block_bars + (1 if longer > 0 else 0)
    # Scalars, not slots of an array, so the loop keeps them in registers.
    sum_return = 0.0
    sum_return_sq = 0.0
    sum_downside_sq = 0.0
    wins = 0.0
    gross_profit = 0.0
    gross_loss = 0.0
    bars_in_market = 0.0

    cash = capital
    direction = 0  # +1 long, -1 short, 0 flat
    units = 0.0
    entry_price = 0.0
    entry_bar = 0
    stop_level = 0.0
    take_level = 0.0
    pending = 0  # +1 / -1 enter long / short at next open, 2 exit at next open
    previous_equity = capital
    peak = capital
    max_drawdown = 0.0
    n_trades = 0
    bankrupt = False

    i = start - 1
    while i < end - 1:
        i += 1
        if direction == 0 and pending == 0:
            # Flat with nothing to fill: equity cannot move until an entry signal, so scan
            # ahead to it (returns are zero and the drawdown is unchanged meanwhile).
            while i < end - 1 and not long_entry[i] and not short_entry[i]:
                if record_equity:
                    equity_out[i - start] = previous_equity
                i += 1
        o = open_[i]
        h = high[i]
        lo = low[i]
        c = close[i]
        exit_price = 0.0
        exit_reason = -1.0
        exited = False

        # 1. Orders decided on the previous close fill at this open.
        if pending == 2:
            exit_price = o - direction * cost_offset
            exit_reason = REASON_SIGNAL
        elif pending != 0 and not bankrupt:
            raw = o
            fill = raw + pending * cost_offset
            unit_cost = fill + raw * commission
            budget = cash * leverage * position_size
            lots = _floor_div(budget, unit_cost * lot_size)
            if lots > 0:
                direction = pending
                units = lots * lot_size
                entry_price = fill
                entry_bar = i
                cash -= commission * units * fill
                stop_level, take_level = _levels(
                    raw, direction, stop_loss, take_profit, stops_in_percent, pip_size, inv_tick
                )
        pending = 0

        # 2. Stop-loss, then take-profit, against this bar's range.
        if direction != 0 and exit_reason < 0 and not (fill_at_close and entry_bar == i):
            if direction > 0:
                if stop_level > 0.0 and lo <= stop_level:
                    exit_price = min(o, stop_level) - cost_offset
                    exit_reason = REASON_STOP
                elif take_level > 0.0 and h >= take_level:
                    exit_price = max(o, take_level) - cost_offset
                    exit_reason = REASON_TAKE
            else:
                if stop_level > 0.0 and h >= stop_level:
                    exit_price = max(o, stop_level) + cost_offset
                    exit_reason = REASON_STOP
                elif take_level > 0.0 and lo <= take_level:
                    exit_price = min(o, take_level) + cost_offset
                    exit_reason = REASON_TAKE

        # 3. Decisions on this close; the last bar of the window closes what is open.
        if i == end - 1:
            if direction != 0 and exit_reason < 0:
                exit_price = c - direction * cost_offset
                exit_reason = REASON_END
        elif (
            not bankrupt
            and exit_reason < 0
            and ((direction > 0 and long_exit[i]) or (direction < 0 and short_exit[i]))
        ):
            if fill_at_close:
                exit_price = c - direction * cost_offset
                exit_reason = REASON_SIGNAL
            else:
                pending = 2

        if exit_reason >= 0 and direction != 0:
            pnl = direction * units * (exit_price - entry_price)
            exit_commission = commission * units * exit_price
            cash += pnl - exit_commission
            net = pnl - exit_commission - commission * units * entry_price
            if net > 0:
                wins += 1
                gross_profit += net
            else:
                gross_loss -= net
            if record_trades:
                trades_out[n_trades, T_ENTRY_BAR] = entry_bar
                trades_out[n_trades, T_EXIT_BAR] = i
                trades_out[n_trades, T_DIRECTION] = direction
                trades_out[n_trades, T_UNITS] = units
                trades_out[n_trades, T_ENTRY] = entry_price
                trades_out[n_trades, T_EXIT] = exit_price
                trades_out[n_trades, T_PNL] = net
                trades_out[n_trades, T_REASON] = exit_reason
            n_trades += 1
            direction = 0
            units = 0.0
            exited = True

        # Entries are decided when flat at the close (also right after a stop or target).
        # At the close, no same-bar reversal: a signal exit there waits for the next bar.
        same_bar_reversal = fill_at_close and exit_reason == REASON_SIGNAL
        if (
            direction == 0
            and i < end - 1
            and not bankrupt
            and pending == 0
            and not same_bar_reversal
        ):
            side = 1 if long_entry[i] else (-1 if short_entry[i] else 0)
            if side != 0:
                if fill_at_close:
                    fill = c + side * cost_offset
                    unit_cost = fill + c * commission
                    lots = _floor_div(cash * leverage * position_size, unit_cost * lot_size)
                    if lots > 0:
                        direction = side
                        units = lots * lot_size
                        entry_price = fill
                        entry_bar = i
                        cash -= commission * units * fill
                        stop_level, take_level = _levels(
                            c, side, stop_loss, take_profit, stops_in_percent, pip_size, inv_tick
                        )
                else:
                    pending = side

        # 4. Mark to market at the close.
        equity = cash
        if direction != 0:
            equity += direction * units * (c - entry_price)
        # A bar in the market once, even when one trade exits on it and the next enters.
        if direction != 0 or exited:
            bars_in_market += 1
        # Divisions only when equity moved: flat stretches cost no arithmetic.
        if equity != previous_equity:
            r = equity / previous_equity - 1.0 if previous_equity > 0 else 0.0
            if i > start:
                sum_return += r
                sum_return_sq += r * r
                downside = min(r, 0.0)  # branchless: the sign of a return is a coin flip
                sum_downside_sq += downside * downside
            if n_blocks > 0:
                while i >= block_end:
                    block += 1
                    block_end += block_bars + (1 if block < longer else 0)
                blocks_out[block, 0] += r
                blocks_out[block, 1] += r * r
        previous_equity = equity
        if equity > peak:
            peak = equity
        elif equity < peak * (1.0 - max_drawdown):
            max_drawdown = 1.0 - equity / peak
        if equity <= 0.0:
            bankrupt = True
        if record_equity:
            equity_out[i - start] = equity

    stats = np.zeros(STATS_SIZE)
    stats[S_SUM_RETURN] = sum_return
    stats[S_SUM_RETURN_SQ] = sum_return_sq
    stats[S_SUM_DOWNSIDE_SQ] = sum_downside_sq
    stats[S_WINS] = wins
    stats[S_GROSS_PROFIT] = gross_profit
    stats[S_GROSS_LOSS] = gross_loss
    stats[S_BARS_IN_MARKET] = bars_in_market
    stats[S_FINAL_EQUITY] = previous_equity
    stats[S_MAX_DRAWDOWN] = max_drawdown
    stats[S_RETURNS] = max(end - start - 1, 0)
    stats[S_TRADES] = n_trades
    return stats
