"""Probes of a strategy's honesty, run before its signals are trusted.

Look-ahead: a signal on bar *t* may use bars up to *t* only, so the signals computed on
the data cut after bar *c* must equal, bar for bar, the full data's signals up to *c*.
A strategy that reads a later bar (``shift(-1)``, ``np.roll``, a centred window) gives
itself away at the last bars before a cut.

Warm-up: signals computed on data that starts later must equal the full data's once
the strategy's declared ``warmup()`` has passed. A strategy that needs more bars than it
declares differs for longer. Recursive indicators (EMA, Wilder's RSI) never forget their
first bars entirely but converge geometrically; the probe allows them that and reports
only a dependence well past the declared warm-up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from stratopt.backtest.strategies import Signals
from stratopt.data import MarketData

#: Checked signals of a parameter set on any slice of the data.
SignalsFn = Callable[[MarketData, Mapping[str, float]], Signals]
#: The strategy's checked warm-up of a parameter set.
WarmupFn = Callable[[Mapping[str, float]], int]

#: Cut points per parameter set: a look-ahead of one bar changes a boolean signal at the
#: bar before a cut only when that bar's decision flips, so several cuts are probed.
LOOKAHEAD_CUTS = 8
#: A later start's signals may differ from the full data's on at most this share of
#: bars once the strategy has really warmed up (a recursive indicator's fading memory).
WARMUP_TOLERANCE = 0.05
#: Declared warm-ups shorter than a 1/this of the bars really needed are reported; a
#: recursive indicator needs a few times its period to forget its seed.
WARMUP_SLACK = 5
#: Fewest bars beyond the declared warm-up worth reporting.
WARMUP_MARGIN = 20


@dataclass(frozen=True)
class LookAhead:
    """Where a strategy's signals changed when later bars were removed."""

    parameters: dict[str, float]
    bar: int  # the first bar whose signal changed
    signal: str  # which of the four arrays
    cut: int  # bars kept


@dataclass(frozen=True)
class ShortWarmup:
    """A strategy whose signals depend on more bars than its ``warmup()`` declares."""

    parameters: dict[str, float]
    declared: int
    needed: int


def find_lookahead(
    compute: SignalsFn,
    warmup: WarmupFn,
    data: MarketData,
    parameter_sets: Sequence[Mapping[str, float]],
) -> LookAhead | None:
    """The first look-ahead found in ``parameter_sets``, or None.

    ``compute(data, params)`` gives checked signals for any slice of the data.
    """
    bars = len(data)
    for params in parameter_sets:
        first = warmup(params) + 2
        if bars - 1 <= first:
            continue
        full = compute(data, params)
        cuts = np.unique(np.linspace(first, bars - 1, LOOKAHEAD_CUTS).round().astype(int))
        for cut in cuts:
            shown = compute(data.slice(0, int(cut)), params)
            for label, whole, part in zip(Signals._fields, full, shown, strict=True):
                changed = np.flatnonzero(whole[:cut] != part)
                if len(changed):
                    return LookAhead(dict(params), int(changed[0]), label, int(cut))
    return None


def find_short_warmup(
    compute: SignalsFn,
    warmup: WarmupFn,
    data: MarketData,
    parameter_sets: Sequence[Mapping[str, float]],
) -> ShortWarmup | None:
    """The first parameter set whose signals need well more bars than declared, or None."""
    bars = len(data)
    for params in parameter_sets:
        declared = warmup(params)
        start = bars // 2
        if bars - start < 4 * (declared + WARMUP_MARGIN):
            continue  # too little data after the start to tell
        full = compute(data, params)
        late = compute(data.slice(start, bars), params)
        differs = np.zeros(bars - start, dtype=bool)
        for whole, part in zip(full, late, strict=True):
            differs |= whole[start:] != part
        needed = _bars_needed(differs, declared)
        if needed > max(WARMUP_SLACK * declared, declared + WARMUP_MARGIN):
            return ShortWarmup(dict(params), declared, needed)
    return None


def _bars_needed(differs: np.ndarray, declared: int) -> int:
    """The first bar from which the signals of a later start agree with the full data's
    on all but :data:`WARMUP_TOLERANCE` of each following window."""
    window = max(declared, WARMUP_MARGIN)
    counts = np.concatenate(([0], np.cumsum(differs)))
    rates = (counts[window:] - counts[:-window]) / window  # rates[j]: bars j .. j+window
    settled = np.flatnonzero(rates[declared:] <= WARMUP_TOLERANCE)
    return declared + int(settled[0]) if len(settled) else len(differs)
