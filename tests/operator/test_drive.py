"""The reconcile loop: runs are reconciled side by side, so one run's long replay does not
hold up another's next step."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from stratopt.operator import handlers
from stratopt.operator.queue import RunKey, RunQueue
from stratopt.operator.reconcile import RunMemory
from stratopt.settings import OperatorSettings

SLOW = RunKey("OptimizationRun", "research", "long-replay")
QUICK = RunKey("OptimizationRun", "research", "next-batch")


def test_a_slow_reconcile_does_not_hold_up_another_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    log: list[tuple[str, RunKey]] = []

    def reconcile_one(runs: RunQueue, key: RunKey, *_: Any) -> None:
        log.append(("start", key))
        if key == SLOW:
            assert release.wait(10), "never released"
        log.append(("end", key))

    monkeypatch.setattr(handlers, "reconcile_one", reconcile_one)
    monkeypatch.setattr(handlers.Clients, "default", staticmethod(lambda: None))
    monkeypatch.setitem(handlers._state, "memory", RunMemory())

    async def scenario() -> None:
        runs = RunQueue(resync=60)
        loop = asyncio.create_task(handlers.drive(runs, OperatorSettings(reconcile_workers=2)))
        runs.mark(SLOW)
        await _until(lambda: ("start", SLOW) in log)
        runs.mark(SLOW)  # an event while it works: served after, never beside it
        runs.mark(QUICK)
        await _until(lambda: ("end", QUICK) in log)
        assert ("end", SLOW) not in log and log.count(("start", SLOW)) == 1
        release.set()
        await _until(lambda: log.count(("end", SLOW)) == 2)
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)

    asyncio.run(scenario())
    assert log.index(("start", SLOW), 1) > log.index(("end", SLOW))


def test_one_worker_reconciles_the_runs_in_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    running: list[int] = [0]
    most: list[int] = [0]
    done: list[RunKey] = []
    lock = threading.Lock()

    def reconcile_one(runs: RunQueue, key: RunKey, *_: Any) -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1
            done.append(key)

    monkeypatch.setattr(handlers, "reconcile_one", reconcile_one)
    monkeypatch.setattr(handlers.Clients, "default", staticmethod(lambda: None))
    monkeypatch.setitem(handlers._state, "memory", RunMemory())
    keys = [RunKey("OptimizationRun", "research", f"r{i}") for i in range(4)]

    async def scenario() -> None:
        runs = RunQueue(resync=60)
        loop = asyncio.create_task(handlers.drive(runs, OperatorSettings(reconcile_workers=1)))
        for key in keys:
            runs.mark(key)
        await _until(lambda: len(done) == 4)
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)

    asyncio.run(scenario())
    assert sorted(done) == sorted(keys) and most[0] == 1


async def _until(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)
