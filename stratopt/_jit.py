"""numba's ``njit`` for the engine, with numba's CPU target loaded without its BLAS probe.

Setting up its CPU target, numba imports ``scipy.linalg`` (about 0.18 s, an eighth of a
short run or of a worker pod's start) only to choose how the inner products of
``np.convolve`` and ``np.correlate`` compile; the engine uses neither. The probe is told
there is no BLAS, so those fall back to numba's own loop; ``np.dot`` and ``np.linalg``
still import scipy when a kernel asks for them.
"""

from __future__ import annotations

import sys

from numba import njit

_BLAS = "scipy.linalg.cython_blas"


def _load_without_blas_probe() -> None:
    if "numba.np.arraymath" in sys.modules or _BLAS in sys.modules:
        return  # loaded already, or scipy.linalg is: the probe costs nothing
    sys.modules[_BLAS] = None  # type: ignore[assignment]  # "import" of it fails at once
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        del sys.modules[_BLAS]


_load_without_blas_probe()

__all__ = ["njit"]
