"""numba's ``njit`` for the engine, with numba's CPU target loaded without the two probes
the engine has no use for (:func:`stratopt.startup.numba_without_probes`)."""

from __future__ import annotations

from stratopt.startup import numba_without_probes

numba_without_probes()

from numba import njit  # noqa: E402  (after the probes are skipped)

__all__ = ["njit"]
