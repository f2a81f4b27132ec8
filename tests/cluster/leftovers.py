"""What a test cluster leaves on the machine if its run is killed outright (SIGKILL gives
no chance to tear down): recorded when each piece starts, reclaimed by the next run.

Processes are stopped only by the PIDs recorded here, and only while that PID still
names the same process (same start time), never by name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

CACHE = Path(os.environ.get("STRATOPT_CACHE", Path.home() / ".cache" / "stratopt"))
STATE = CACHE / "test-cluster.json"


def start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of its stat), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def processes_naming(root: str) -> list[int]:
    """PIDs whose command line names a path under ``root``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(root in arg.decode(errors="replace") for arg in argv):
            found.append(int(entry.name))
    return found


def processes_in_cgroup(name: str) -> set[int]:
    """PIDs in cgroup ``name`` or below it, in the pids hierarchy."""
    top = Path("/sys/fs/cgroup/pids") / name
    if not top.is_dir():
        return set()
    return {int(pid) for procs in top.rglob("cgroup.procs") for pid in procs.read_text().split()}


class Ledger:
    """The record of one run's cluster, rewritten on every change."""

    def __init__(self, path: Path = STATE) -> None:
        self.path = path
        self.entries: dict[str, Any] = {
            "owner": [os.getpid(), start_time(os.getpid())],
            "processes": [],
            "mounts": [],
            "netns": None,
            "blackholes": [],
        }

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.entries))

    def process(self, pid: int) -> None:
        self.entries["processes"].append([pid, start_time(pid)])
        self._save()

    def mounts(self, root: Path) -> None:
        self.entries["mounts"].append(str(root))
        self._save()

    def netns(self, name: str, blackholes: list[str]) -> None:
        self.entries["netns"], self.entries["blackholes"] = name, list(blackholes)
        self._save()

    def close(self) -> None:
        """Everything was torn down: nothing to reclaim."""
        self.path.unlink(missing_ok=True)


def reclaim(path: Path = STATE, cgroup: str | None = "kubepods") -> list[str]:
    """Tear down what a killed run left, unless that run is still alive: its processes,
    those in ``cgroup`` (its pods'), its mounts, its network namespace and routes.
    Returns what was done, for the log."""
    if not path.exists():
        return []
    entries = json.loads(path.read_text())
    owner, started = entries["owner"]
    if start_time(owner) == started:
        raise RuntimeError(f"a test cluster of process {owner} is still running")
    done = []
    for pid, started in reversed(entries["processes"]):
        if started and start_time(pid) == started:
            os.kill(pid, signal.SIGKILL)
            done.append(f"stopped process {pid}")
    # containerd's shims and the pods' processes outlive containerd; each names the run
    # directory, which is unique to that run.
    for root in entries["mounts"]:
        for pid in processes_naming(root):
            os.kill(pid, signal.SIGKILL)
            done.append(f"stopped process {pid} of {root}")
    from tests.cluster.node import remove_cgroups, unmount_under

    if cgroup:
        for pid in processes_in_cgroup(cgroup):
            os.kill(pid, signal.SIGKILL)
            done.append(f"stopped pod process {pid}")
    for root in entries["mounts"]:
        unmount_under(Path(root))
        done.append(f"unmounted {root}")
    if cgroup:
        remove_cgroups(cgroup)
    if entries["netns"] and Path("/run/netns", entries["netns"]).exists():
        subprocess.run(["ip", "netns", "delete", entries["netns"]], check=False)
        done.append(f"deleted network namespace {entries['netns']}")
    for cidr in entries["blackholes"]:
        subprocess.run(["ip", "route", "del", "blackhole", cidr], capture_output=True, check=False)
        done.append(f"removed route blackhole {cidr}")
    path.unlink()
    return done
