"""Scrambled Sobol' points without importing scipy.stats.

scipy.stats.qmc.Sobol is the reference, but importing scipy.stats costs most of a second
(it builds the docstrings of every distribution), more than a 100-sample random search
takes. This is the same algorithm on the same Joe-Kuo direction numbers, read from
scipy's own data file: linear matrix scrambling plus a digital shift, drawn from
``numpy.random.default_rng(seed)`` in scipy's order, then Gray-code order. For a seed it
gives scipy's points bit for bit (tests/optimize/test_sobol.py checks it).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np

#: Bits of each coordinate, as scipy's default: 2**30 points at most.
BITS = 30


@cache
def _direction_numbers() -> tuple[np.ndarray, np.ndarray]:
    """(primitive polynomials, initial direction numbers) of the Joe-Kuo D(6) table."""
    found = importlib.util.find_spec("scipy")  # locates scipy without importing it
    if found is None or not found.submodule_search_locations:
        raise ImportError("the Sobol' sampler needs scipy's direction numbers: install scipy")
    root = Path(next(iter(found.submodule_search_locations)))
    with np.load(root / "stats" / "_sobol_direction_numbers.npz") as table:
        return table["poly"], table["vinit"]


def _directions(dimensions: int) -> np.ndarray:
    """Direction numbers, one row per dimension, each ``BITS`` left-aligned integers
    (Bratley and Fox, Algorithm 659)."""
    poly, vinit = _direction_numbers()
    rows = np.ones((dimensions, BITS), dtype=np.uint64)
    for dimension in range(1, dimensions):
        polynomial = int(poly[dimension])
        degree = polynomial.bit_length() - 1
        row = [int(value) for value in vinit[dimension, :degree]]
        for j in range(degree, BITS):
            value = row[j - degree]
            for k in range(degree):
                if (polynomial >> (degree - 1 - k)) & 1:
                    value ^= row[j - k - 1] << (k + 1)
            row.append(value)
        rows[dimension] = row
    return rows << np.arange(BITS - 1, -1, -1, dtype=np.uint64)


def _scrambled(directions: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Left linear matrix scrambling: bit ``BITS-1-p`` of each new direction number is
    the parity of row ``p`` of its dimension's unit lower-triangular matrix (first
    column the most significant bit) against the old number's bits."""
    diagonal = np.arange(BITS)
    lower[:, diagonal, diagonal] = 1
    powers = np.arange(BITS, dtype=np.uint64)
    old_bits = ((directions[:, :, None] >> powers) & np.uint64(1)).astype(np.int64)
    parity = np.einsum("dpk,djk->djp", lower[:, :, ::-1], old_bits) % 2
    weights = np.uint64(1) << powers[::-1]
    scrambled: np.ndarray = (parity.astype(np.uint64) * weights).sum(axis=2)
    return scrambled


def scrambled_sobol(dimensions: int, samples: int, seed: int | None) -> np.ndarray:
    """``samples`` scrambled Sobol' points in the unit cube, shape (samples, dimensions):
    ``scipy.stats.qmc.Sobol(dimensions, scramble=True, seed=seed).random(samples)``."""
    rng = np.random.default_rng(seed)
    directions = _directions(dimensions)
    bits = rng.integers(0, 2, size=(dimensions, BITS), dtype=np.uint32).astype(np.uint64)
    shift = bits @ (np.uint64(1) << np.arange(BITS, dtype=np.uint64))
    lower = np.tril(rng.integers(0, 2, size=(dimensions, BITS, BITS), dtype=np.uint32))
    directions = _scrambled(directions, lower.astype(np.int64))
    points = np.empty((samples, dimensions))
    scale = 1.0 / 2**BITS
    current = shift.copy()
    if samples:
        points[0] = current * scale
    for i in range(samples - 1):
        lowest_zero = (~i & (i + 1)).bit_length()  # 1-based position of i's lowest 0 bit
        current ^= directions[:, lowest_zero - 1]
        points[i + 1] = current * scale
    return points
