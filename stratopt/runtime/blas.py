"""One BLAS thread per process: a run's parallelism is its process pool, or its pods.

numpy's and scipy's OpenBLAS otherwise start a thread per core and, after each of the
small products a search makes, leave them spinning, waiting for more work: on two cores
a third of a short run's CPU time, taken from the backtests beside them, and a pod's CPU
limit spent on nothing. Call before numpy loads; a value set in the environment stands.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping


def one_blas_thread(environ: MutableMapping[str, str] = os.environ) -> None:
    environ.setdefault("OPENBLAS_NUM_THREADS", "1")
