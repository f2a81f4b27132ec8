"""Deflated Sharpe ratio and PBO: published numbers, an independent computation, and
behaviour on markets with and without an edge."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from stratopt.optimize.diagnostics import (
    block_summaries,
    expected_max_sharpe,
    probabilistic_sharpe,
    probability_of_overfitting,
)


def test_deflated_sharpe_reproduces_the_papers_example() -> None:
    """Bailey & López de Prado (2014), numerical example: annualized SR 2.5 over five
    years of daily returns, 100 trials whose Sharpe ratios vary by 0.5, skew −3, kurtosis
    10 → expected maximum SR ≈ 1.79 annualized (0.1132 daily) and DSR ≈ 0.9004."""
    daily = 250
    benchmark = expected_max_sharpe(100, 0.5 / daily)
    assert benchmark == pytest.approx(0.1132, abs=5e-4)
    dsr = probabilistic_sharpe(2.5 / math.sqrt(daily), benchmark, 1250, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-4)


def _naive_pbo(returns: np.ndarray, blocks: int) -> float:
    """CSCV from the raw return matrix (bars × configurations), written independently."""
    parts = np.array_split(np.arange(returns.shape[0]), blocks)
    below = 0
    combos = list(itertools.combinations(range(blocks), blocks // 2))
    for chosen in combos:
        inside = np.concatenate([parts[b] for b in chosen])
        outside = np.concatenate([parts[b] for b in range(blocks) if b not in chosen])

        def sharpe(rows: np.ndarray) -> np.ndarray:
            sample = returns[rows]
            return sample.mean(axis=0) / sample.std(axis=0)

        best = int(np.argmax(sharpe(inside)))
        oos = sharpe(outside)
        rank = (oos < oos[best]).sum() + ((oos == oos[best]).sum() + 1) / 2
        omega = rank / (returns.shape[1] + 1)
        below += math.log(omega / (1 - omega)) <= 0
    return below / len(combos)


@pytest.mark.parametrize("edge", [0.0, 0.002])
def test_pbo_from_block_summaries_matches_the_raw_computation(edge: float) -> None:
    rng = np.random.default_rng(5)
    returns = rng.normal(0, 0.01, size=(2000, 30))
    returns[:, 7] += edge  # one configuration with a real edge, or none
    summaries = np.stack([block_summaries(returns[:, j], 10) for j in range(30)])
    result = probability_of_overfitting(summaries)
    assert result.probability == pytest.approx(_naive_pbo(returns, 10), abs=1e-12)
    assert result.combinations == 252
    if edge:
        assert result.probability < 0.1
    else:
        assert result.probability > 0.3


def test_pbo_needs_even_blocks() -> None:
    with pytest.raises(ValueError, match="even number of blocks"):
        probability_of_overfitting(np.ones((3, 5, 3)))
