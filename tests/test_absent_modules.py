"""stratopt imports and runs without TensorFlow; forecasts say how to get it."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import EXAMPLES

BLOCK = "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + code],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_everything_but_forecasts_works_without_tensorflow() -> None:
    done = run(
        "import stratopt.cli, stratopt.runtime, stratopt.features, stratopt.forecast\n"
        "from stratopt.cli import cli\n"
        f"cli(['backtest', '{EXAMPLES / 'optimization-genetic.yaml'}', '-o', 'json'])\n"
    )
    assert done.returncode == 0, done.stderr
    assert '"net_profit"' in done.stdout


def test_forecast_without_tensorflow_says_what_to_install() -> None:
    done = run(
        "from stratopt.forecast._imports import import_tensorflow\n"
        "try:\n    import_tensorflow()\nexcept ImportError as e:\n    print(e)\n"
    )
    assert "pip install 'stratopt[forecast]'" in done.stdout
