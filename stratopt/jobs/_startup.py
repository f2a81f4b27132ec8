"""What a worker process does before anything heavy is imported.

Light on purpose: it runs before numba loads, so it imports nothing that loads it.
"""

from __future__ import annotations

import os
import shutil
import signal
from types import FrameType

from stratopt.runtime.blas import one_blas_thread
from stratopt.runtime.protocol import STOPPED_EXIT_CODE


def exit_on_sigterm() -> None:
    """Exit at once on SIGTERM. As a container's PID 1, Python would otherwise ignore it
    and the pod would wait out its whole grace period on suspend or delete. Results are
    stored per shard and written whole, so stopping mid-work loses only that shard. Its
    status is the one the Jobs' pod failure policy does not count as a failure."""

    def stop(signum: int, frame: FrameType | None) -> None:
        os._exit(STOPPED_EXIT_CODE)

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
