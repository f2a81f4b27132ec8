"""What makes stratopt start fast, in one place.

A short run and a worker pod spend as much time starting as working, so every process
imports what its command needs and nothing more. Each trick, with what it buys (measured
on two cores), and where it lives:

* :func:`lazy_import`: ``stratopt``'s commands load their modules on first use, so
  ``stratopt --help`` and a mistyped option import no numpy, pandas, numba, pydantic
  or rich (0.09 s, where importing what the commands use takes 1 to 1.5 s, and 1.6 s
  with the operator's).
* :func:`numba_without_probes`: numba's CPU target set up without importing
  ``scipy.linalg`` and cffi's C parser, which the engine never uses (0.18 s a process).
* :func:`exit_without_collecting`: the interpreter's exit skips collecting the objects
  numba and pydantic made; the exit frees them (0.25 s a run, and of each pod's life).
* ``stratopt.runtime.blas.one_blas_thread``: numpy's BLAS on one thread, since a run's
  parallelism is its processes; a thread a core leaves OpenBLAS spinning after each
  small product (a third of a short run's CPU time).
* ``stratopt.optimize.sobol``: scipy's scrambled Sobol' points without importing
  ``scipy.stats``, bit for bit (most of a second, more than a 100-sample search takes).
* ``stratopt.jobs._cluster``: the worker pods call the API with the standard library,
  not the kubernetes client (a quarter second a pod).
* ``stratopt.jobs._startup``: a worker pod copies numba's kernels compiled at image
  build into its cache before numba loads, and exits at once on SIGTERM.

``tests/test_startup.py`` fails when a command imports more than it did.
"""

from __future__ import annotations

import gc
import importlib
import sys
from types import ModuleType
from typing import Any


class _LazyModule(ModuleType):
    """A module imported when one of its attributes is first read. Unlike importlib's
    ``LazyLoader``, it imports nothing before that, not even the packages above it."""

    def __getattr__(self, attribute: str) -> Any:
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)
        return getattr(module, attribute)


def lazy_import(name: str) -> Any:
    """Module ``name``, imported when first used. Annotate the name with the real module
    under ``TYPE_CHECKING`` so that the type checker sees through it."""
    return sys.modules.get(name) or _LazyModule(name)


#: numba module → the import by which it probes for something the engine does not use.
_NUMBA_PROBES = {
    "numba.np.arraymath": "scipy.linalg.cython_blas",
    "numba.core.typing.cffi_utils": "cffi",
}


def numba_without_probes() -> None:
    """Load numba's CPU target as if scipy's BLAS and cffi were not installed.

    Setting up its CPU target, numba imports ``scipy.linalg`` only to choose how the
    inner products of ``np.convolve`` and ``np.correlate`` compile (the engine uses
    neither: they fall back to numba's own loop; ``np.dot`` and ``np.linalg`` still
    import scipy when a kernel asks). At its first compile it also builds a
    ``cffi.FFI()`` so that kernels could call cffi functions; the engine calls none.
    """
    for module, probed in _NUMBA_PROBES.items():
        if module in sys.modules or probed in sys.modules:
            continue  # loaded already, or what it probes for is: the probe costs nothing
        sys.modules[probed] = None  # type: ignore[assignment]  # "import" of it fails at once
        try:
            importlib.import_module(module)
        finally:
            del sys.modules[probed]


def exit_without_collecting() -> None:
    """Call last: the objects made so far are left to the process's exit, which frees
    them, instead of the interpreter's last collection walking every one."""
    gc.freeze()
