"""What a worker process does before anything heavy is imported.

Light on purpose: it runs before numba loads, so it imports nothing that loads it.
"""

from __future__ import annotations

import os
import shutil
import signal
from types import FrameType

from stratopt.runtime.blas import one_blas_thread


def exit_on_sigterm() -> None:
    """Exit at once on SIGTERM, with the status of a process the signal ended
    (``protocol.STOPPED_EXIT_CODE``, which the Jobs' pod failure policy does not count as
    a failure). Results are stored per shard and written whole, so stopping mid-work
    loses only that shard. Where the worker is its container's PID 1 it would otherwise
    ignore SIGTERM and wait out the pod's grace period; the worker pods the operator
    creates share their process namespace, so that holds before this runs too. Imports
    nothing heavy, so that it runs within milliseconds of the process's start."""

    def stop(signum: int, frame: FrameType | None) -> None:
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def seed_numba_cache(environ: os._Environ[str] | dict[str, str] = os.environ) -> bool:
    """Copy the kernels compiled at image build (``STRATOPT_NUMBA_PREBUILT``, read-only)
    into ``NUMBA_CACHE_DIR`` (writable), which numba requires of its cache. Returns
    whether anything was copied; an existing cache is left as it is."""
    prebuilt, cache = environ.get("STRATOPT_NUMBA_PREBUILT"), environ.get("NUMBA_CACHE_DIR")
    if not prebuilt or not cache or not os.path.isdir(prebuilt) or os.path.exists(cache):
        return False
    shutil.copytree(prebuilt, cache)
    return True


def prepare_process() -> None:
    exit_on_sigterm()
    one_blas_thread()
    seed_numba_cache()
