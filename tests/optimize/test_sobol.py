"""The Sobol' sampler gives scipy.stats.qmc.Sobol's scrambled points bit for bit, without
importing scipy.stats."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy.stats import qmc

from stratopt.optimize.sobol import scrambled_sobol


@pytest.mark.parametrize(
    ("dimensions", "samples", "seed"),
    [(4, 100, 42), (1, 7, 0), (2, 128, 3), (7, 33, 123), (3, 1, 5), (20, 1000, 9), (2, 0, 1)],
)
def test_the_points_are_scipys(dimensions: int, samples: int, seed: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # counts that are no power of two
        expected = qmc.Sobol(dimensions, scramble=True, seed=seed).random(samples)
    np.testing.assert_array_equal(scrambled_sobol(dimensions, samples, seed), expected)


def test_no_scipy_stats_is_imported() -> None:
    probe = (
        "import sys\n"
        "from stratopt.optimize.sobol import scrambled_sobol\n"
        "scrambled_sobol(3, 16, 1)\n"
        "print('scipy.stats' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"
