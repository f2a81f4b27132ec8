"""Every example, mutated at random as users get specs wrong (a field dropped, a value of
the wrong type or out of range, an unknown key): ``stratopt run`` either runs it (exit 0)
or refuses it with a field-naming error (exit 2); never a traceback."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratopt.cli import cli
from tests.conftest import EXAMPLES
from tests.test_examples import deep_merge

NAMES = sorted(p.stem for p in EXAMPLES.glob("*.yaml") if not p.stem.endswith(".expect"))
#: Bars of each mutated example's data: few, cheap to search, but a walk-forward keeps
#: the years its windows need.
BARS = 2500
KEEP_BARS = ("walk-forward",)
#: Values users put where another belongs.
WRONG_VALUES = [None, -1, 0, 2.5, 10**12, "", "x", "3 years", [], [1, "a"], {}, {"a": 1}, True]
#: And values meant to break things: non-finite and absurd numbers, paths out of the
#: results folder, secrets, devices, bytes that end strings early, repeated options.
HOSTILE_VALUES = [
    float("inf"),
    float("nan"),
    -1e308,
    5e-324,
    "x" * 5000,
    "a\0b",
    "../../escaped",
    "/proc/self/environ",
    "/dev/zero",
    "synthetic:gbm?bars=10&bars=200000000",
    "multiprocessing.pool:Pool",
    "99999999999999999999y",
]


def example(name: str) -> dict[str, Any]:
    """The example with the test budget of its .expect.yaml and short data."""
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    expect = EXAMPLES / f"{name}.expect.yaml"
    if expect.exists():
        overrides = yaml.safe_load(expect.read_text())["overrides"]
        document["spec"] = deep_merge(document["spec"], overrides)
    text = yaml.safe_dump(document)
    if name not in KEEP_BARS:
        text = re.sub(r"bars=\d+", f"bars={BARS}", text)
    return dict(yaml.safe_load(text))


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path below ``node`` (mappings and list items)."""
    found = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in items:
        found.append((*prefix, key))
        found.extend(paths(child, (*prefix, key)))
    return found


@st.composite
def mutated(draw: st.DrawFn, name: str, within: tuple[str, ...] = ()) -> dict[str, Any]:
    """The example with one to three mutations, all below ``within`` if given."""
    document = copy.deepcopy(example(name))
    for _ in range(draw(st.integers(1, 3))):
        candidates = [p for p in paths(document) if p[: len(within)] == within and p != within]
        if not candidates:
            break
        where = draw(st.sampled_from(candidates))
        *parents, last = where
        node: Any = document
        for part in parents:
            node = node[part]
        action = draw(st.sampled_from(["drop", "replace", "add"]))
        if action == "drop":
            del node[last]
        elif action == "replace":
            node[last] = draw(st.sampled_from(WRONG_VALUES + HOSTILE_VALUES))
        elif isinstance(node, dict):
            node[draw(st.sampled_from(["extra", "Seed", "metdata", "spec_"]))] = 1
        if not isinstance(document.get("spec"), dict):
            break
    return document


@pytest.mark.parametrize("name", NAMES)
def test_a_mutated_example_runs_or_is_refused_by_name(name: str, tmp_path_factory: Any) -> None:
    @settings(
        max_examples=12 if name == "forecast" else 25,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(document=mutated(name))
    def check(document: dict[str, Any]) -> None:
        folder = Path(tmp_path_factory.mktemp(name))
        spec = folder / "spec.yaml"
        spec.write_text(yaml.safe_dump(document))
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(folder)
            # Saving a Keras model warns under this suite's warnings-as-errors: forecasts
            # keep their results in memory here (test_examples writes them).
            out = [] if name == "forecast" else ["--out", "out"]
            result = CliRunner().invoke(
                cli, ["run", str(spec), "-o", "json", "--workers", "1", *out]
            )
        described = f"{yaml.safe_dump(document)}\n{result.output[-2000:]}"
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"raised {result.exception!r} on\n{described}")
        assert "Traceback" not in result.output, described
        assert result.exit_code in (0, 2), described
        if result.exit_code == 2:
            assert re.search(r"^error: \S+: ", result.stderr, re.MULTILINE), described
        else:
            assert "error:" not in result.stderr, f"refused but exit 0: {described}"
        outside = {p.name for p in folder.iterdir()} - {"spec.yaml", "out"}
        assert not outside, f"wrote {outside} outside --out: {described}"
        assert not (folder.parent / "escaped").exists(), described

    check()
