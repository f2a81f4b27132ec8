"""The operator's settings come from STRATOPT_* variables when it starts, are validated
then, and a bad one stops it with a message naming the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stratopt.errors import InputError
from stratopt.settings import OperatorSettings


def test_variables_set_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATOPT_RESYNC_INTERVAL", "2.5")
    monkeypatch.setenv("STRATOPT_IMAGE", "registry.example/worker:1")
    monkeypatch.setenv("STRATOPT_BACKOFF_LIMIT", "4")
    monkeypatch.setenv("STRATOPT_BATCHES_AHEAD", "0")
    settings = OperatorSettings.from_environment()
    assert settings.resync_interval == 2.5 and settings.jobs.batches_ahead == 0
    assert (settings.jobs.image, settings.jobs.backoff_limit) == ("registry.example/worker:1", 4)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("STRATOPT_RESYNC_INTERVAL", "-1", "greater than 0"),
        ("STRATOPT_RESYNC_INTERVAL", "soon", "valid number"),
        ("STRATOPT_METRICS_PORT", "70000", "less than or equal to 65535"),
        ("STRATOPT_IMAGE_PULL_POLICY", "Sometimes", "'Always', 'IfNotPresent' or 'Never'"),
        ("STRATOPT_BACKOFF_LIMIT", "two", "valid integer"),
        ("STRATOPT_BATCHES_AHEAD", "-1", "greater than or equal to 0"),
    ],
)
def test_a_bad_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InputError, match=message) as caught:
        OperatorSettings.from_environment()
    assert caught.value.field == variable
    assert repr(value) in caught.value.message


def test_the_operator_command_refuses_a_bad_variable_before_starting() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stratopt.cli", "operator", "-n", "default"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"STRATOPT_RESYNC_INTERVAL": "0", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: STRATOPT_RESYNC_INTERVAL: Input should be greater"), (
        done.stderr
    )
    assert "Traceback" not in done.stderr
