"""A test cluster killed outright is reclaimed by the next run: by recorded PID only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cluster.leftovers import Ledger, reclaim, start_time

KILLED_RUN = """
import subprocess, sys
from pathlib import Path
from tests.cluster.leftovers import Ledger
ledger = Ledger(Path(sys.argv[1]))
child = subprocess.Popen(["sleep", "300"], stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL, start_new_session=True)
ledger.process(child.pid)
ledger.mounts(Path(sys.argv[2]))
print(child.pid)
"""


def test_what_a_killed_run_started_is_stopped_and_its_record_dropped(tmp_path: Path) -> None:
    state, run = tmp_path / "state.json", tmp_path / "run"
    run.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(state), str(run)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    orphan = int(done.stdout)
    assert start_time(orphan) is not None, "the run's process outlived it"
    steps = reclaim(state, cgroup=None)
    assert f"stopped process {orphan}" in steps
    deadline = time.monotonic() + 10
    while (stat := Path(f"/proc/{orphan}/stat")).exists() and " Z " not in stat.read_text():
        assert time.monotonic() < deadline, "the orphan is still running"
        time.sleep(0.05)
    assert not state.exists()


def test_a_process_that_reused_a_recorded_pid_is_left_alone(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        record = {
            "owner": [2**22 + 1, "0"],  # a PID no process has
            "processes": [[bystander.pid, "1"]],  # same PID, another start time
            "mounts": [],
            "netns": None,
            "blackholes": [],
        }
        state.write_text(json.dumps(record))
        assert reclaim(state, cgroup=None) == []
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_a_live_run_is_never_reclaimed(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    Ledger(state).process(os.getpid())
    with pytest.raises(RuntimeError, match="still running"):
        reclaim(state, cgroup=None)
    assert state.exists()
