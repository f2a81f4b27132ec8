"""Start-up stays small (stratopt.startup): the command's help, and a worker process
before numba loads, import only what they need. A command that starts importing more
fails here, naming what it imported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stratopt.cli import cli

PROBE = """\
import json, sys
{code}
modules = {{
    name: getattr(module, "__file__", None) or ""
    for name, module in list(sys.modules.items())
    if module is not None
}}
print(json.dumps(modules), file=sys.stderr)
"""


def imported(code: str) -> dict[str, str]:
    """Module name → file of every module ``code`` leaves imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    found: dict[str, str] = json.loads(done.stderr.strip().splitlines()[-1])
    return found


@pytest.fixture(scope="module")
def bare() -> set[str]:
    """What the interpreter imports before any code runs (site hooks among it)."""
    return set(imported("pass"))


def third_party(modules: dict[str, str], bare: set[str]) -> set[str]:
    """The top-level packages imported from outside the standard library and stratopt,
    beyond what a bare interpreter imports."""
    return {
        name.split(".")[0]
        for name, path in modules.items()
        if "site-packages" in path and not name.startswith("stratopt") and name not in bare
    }


@pytest.mark.parametrize("command", ["", *sorted(cli.commands)])
def test_help_imports_only_the_command_line(command: str, bare: set[str]) -> None:
    arguments = [command, "--help"] if command else ["--help"]
    modules = imported(
        "from stratopt.cli import cli\n"
        f"try:\n    cli({arguments!r}, standalone_mode=False)\nexcept SystemExit:\n    pass"
    )
    ours = {name for name in modules if name.startswith("stratopt")}
    assert ours == {"stratopt", "stratopt.cli", "stratopt.errors", "stratopt.startup"}
    extra = third_party(modules, bare)
    assert extra <= {"click", "yaml", "_yaml"}, extra


def test_a_worker_readies_its_process_before_numba_or_pydantic_load(bare: set[str]) -> None:
    modules = imported("from stratopt.jobs._startup import prepare_process")
    assert third_party(modules, bare) == set()


def test_a_lazy_module_imports_nothing_until_used() -> None:
    modules = imported(
        "from stratopt.startup import lazy_import\n"
        "ledger = lazy_import('stratopt.backtest.ledger')\n"
        "assert ledger.__name__ == 'stratopt.backtest.ledger'"
    )
    assert not any(name.startswith("stratopt.backtest") for name in modules)
    used = imported(
        "from stratopt.startup import lazy_import\n"
        "assert callable(lazy_import('stratopt.backtest.ledger').buy_and_hold)"
    )
    assert "stratopt.backtest.ledger" in used
