"""A first-order recursion over a series, compiled (numba is loaded for the engine)."""

from __future__ import annotations

import numpy as np

from stratopt._jit import njit


@njit(cache=True)
def ar1(noise: np.ndarray, coefficient: float) -> np.ndarray:  # pragma: no cover
    """y_t = noise_t − coefficient · y_{t−1}, with y_0 = noise_0."""
    out = np.empty_like(noise)
    previous = 0.0
    for t in range(noise.shape[0]):
        previous = noise[t] - coefficient * previous
        out[t] = previous
    return out
