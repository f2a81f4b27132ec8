"""What a worker process does before anything heavy loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from stratopt.jobs._startup import seed_numba_cache


def test_prebuilt_kernels_are_copied_into_an_absent_cache(tmp_path: Path) -> None:
    prebuilt = tmp_path / "prebuilt" / "stratopt" / "backtest"
    prebuilt.mkdir(parents=True)
    (prebuilt / "_kernel.simulate-72.py311.nbi").write_bytes(b"index")
    cache = tmp_path / "cache"
    environ = {"STRATOPT_NUMBA_PREBUILT": str(tmp_path / "prebuilt"), "NUMBA_CACHE_DIR": str(cache)}
    assert seed_numba_cache(environ)
    assert (
        cache / "stratopt" / "backtest" / "_kernel.simulate-72.py311.nbi"
    ).read_bytes() == b"index"


def test_an_existing_cache_or_no_prebuilt_kernels_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "prebuilt").mkdir()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "mine").write_text("kept")
    environ = {"STRATOPT_NUMBA_PREBUILT": str(tmp_path / "prebuilt"), "NUMBA_CACHE_DIR": str(cache)}
    assert not seed_numba_cache(environ)
    assert (cache / "mine").read_text() == "kept"
    assert not seed_numba_cache({"NUMBA_CACHE_DIR": str(tmp_path / "other")})
    assert not (tmp_path / "other").exists()


def test_sigterm_ends_the_worker_at_once_with_its_conventional_status() -> None:
    code = (
        "import os, signal, time\n"
        "from stratopt.jobs._startup import exit_on_sigterm\n"
        "exit_on_sigterm()\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "time.sleep(30)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=20, check=False)
    assert done.returncode == 143


def loaded_of(modules: tuple[str, ...], statements: str) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded after ``statements``."""
    probe = "import json, sys\nprint(json.dumps(sorted(m for m in {!r} if m in sys.modules)))"
    code = f"{statements}\n{probe.format(modules)}\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    found: list[str] = json.loads(done.stdout)
    return found


def test_the_sigterm_handler_is_set_before_any_library_loads() -> None:
    """A pod suspended while its worker starts stops at once only if the handler is set
    within moments of the process's start: nothing heavy may be imported before it."""
    assert loaded_of(("pydantic", "numpy", "numba"), "import stratopt.jobs._startup") == []


def test_a_shard_worker_imports_no_library_it_does_not_use() -> None:
    """Start-up is most of a shard pod's life: the engine path must not pull in the
    search algorithms, scipy's heavy modules or TensorFlow (each costs tenths of a
    second or more to import)."""
    heavy = (
        "scipy.stats",
        "scipy.signal",
        "sklearn",
        "skopt",
        "pymoo.algorithms",
        "matplotlib",
        "tensorflow",
    )
    statements = "import stratopt.jobs.worker\nfrom stratopt.runtime.optimization import prepare"
    assert loaded_of(heavy, statements) == []


def test_a_worker_runs_blas_on_one_thread_unless_its_environment_says_otherwise() -> None:
    code = (
        "from stratopt.jobs._startup import prepare_process\n"
        "prepare_process()\n"
        "import numpy\n"
        "from threadpoolctl import threadpool_info\n"
        "print(sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}))\n"
    )
    environ = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    for given, expected in ((None, "[1]"), ("2", "[2]")):
        env = environ if given is None else {**environ, "OPENBLAS_NUM_THREADS": given}
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
        )
        assert done.stdout.strip() == expected, done.stderr
