"""numba's ``njit`` for the engine, with numba's CPU target loaded without two probes.

Setting up its CPU target, numba imports ``scipy.linalg`` (about 0.18 s, an eighth of a
short run or of a worker pod's start) only to choose how the inner products of
``np.convolve`` and ``np.correlate`` compile; the engine uses neither. The probe is told
there is no BLAS, so those fall back to numba's own loop; ``np.dot`` and ``np.linalg``
still import scipy when a kernel asks for them.

At its first compile or cache load numba also builds a ``cffi.FFI()`` (which imports
cffi's C parser and pycparser) so that kernels could call cffi functions; the engine
calls none, so numba's cffi support is loaded as if cffi were not installed.
"""

from __future__ import annotations

import importlib
import sys

from numba import njit

_PROBES = {
    # numba module: the import that probes for something the engine does not use
    "numba.np.arraymath": "scipy.linalg.cython_blas",
    "numba.core.typing.cffi_utils": "cffi",
}


def _load_without_probes() -> None:
    for module, probed in _PROBES.items():
        if module in sys.modules or probed in sys.modules:
            continue  # loaded already, or what it probes for is: the probe costs nothing
        sys.modules[probed] = None  # type: ignore[assignment]  # "import" of it fails at once
        try:
            importlib.import_module(module)
        finally:
            del sys.modules[probed]


_load_without_probes()

__all__ = ["njit"]
