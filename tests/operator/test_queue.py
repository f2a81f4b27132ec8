"""The operator's work queue: which runs are reconciled when, without a cluster."""

from __future__ import annotations

from typing import Any

from stratopt.operator.queue import RunKey, RunQueue, is_settled, owning_run, spec_unanswered

RUN = RunKey("OptimizationRun", "research", "rsi")
OTHER = RunKey("ForecastRun", "research", "fc")


def body(phase: str | None, generation: int, observed: int | None) -> dict[str, Any]:
    status = {} if phase is None else {"phase": phase, "observedGeneration": observed}
    return {"metadata": {"generation": generation}, "status": status}


def test_a_marked_run_is_due_once_then_at_each_resync() -> None:
    queue = RunQueue(resync=10)
    queue.mark(RUN)
    queue.mark(RUN)  # a burst of events costs one reconciliation
    assert queue.due(now=0) == [RUN]
    assert queue.due(now=5) == []
    assert queue.due(now=10) == [RUN]
    assert queue.due(now=19) == []


def test_a_tracked_run_waits_for_its_resync_and_a_mark_brings_it_forward() -> None:
    queue = RunQueue(resync=10)
    queue.track(RUN, now=0)
    assert queue.due(now=1) == []
    queue.mark(RUN)
    assert queue.due(now=2) == [RUN]
    assert queue.due(now=11) == []
    assert queue.due(now=12) == [RUN]


def test_the_loop_sleeps_until_the_next_resync_and_a_mark_wakes_it() -> None:
    queue = RunQueue(resync=10)
    woken: list[None] = []
    queue.on_mark(lambda: woken.append(None))
    assert queue.wait(now=0) is None  # nothing tracked: sleep until a mark
    queue.track(RUN, now=0)
    queue.track(OTHER, now=4)
    assert queue.wait(now=3) == 7
    assert queue.wait(now=12) == 0  # overdue
    queue.mark(OTHER)
    assert woken == [None]
    assert queue.wait(now=3) == 0


def test_forgotten_runs_are_never_due_again_until_marked() -> None:
    queue = RunQueue(resync=1)
    queue.mark(RUN)
    queue.mark(OTHER)
    assert sorted(queue.due(now=0)) == sorted([RUN, OTHER])
    queue.forget(RUN)
    assert queue.due(now=100) == [OTHER]
    assert queue.tracked() == [OTHER]


def test_failures_back_off_doubling_up_to_the_bound_and_reset_on_success() -> None:
    queue = RunQueue(resync=2, max_retry=7)
    assert [queue.failed(RUN, now=0) for _ in range(4)] == [(1, 2), (2, 4), (3, 7), (4, 7)]
    assert queue.due(now=6.9) == []
    assert queue.due(now=7) == [RUN]
    queue.succeeded(RUN)
    assert queue.failed(RUN, now=0) == (1, 2)


def test_settled_means_finished_for_the_current_spec() -> None:
    assert is_settled(body("Succeeded", 3, 3))
    assert is_settled(body("Failed", 1, 1))
    assert not is_settled(body("Succeeded", 4, 3))  # its spec changed since
    assert not is_settled(body("Running", 1, 1))
    assert not is_settled(body(None, 1, None))
    assert spec_unanswered(body(None, 1, None))
    assert spec_unanswered(body("Running", 2, 1))
    assert not spec_unanswered(body("Running", 2, 2))


def test_a_job_wakes_the_run_that_owns_it_and_nothing_else() -> None:
    owned = {
        "metadata": {
            "namespace": "research",
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly"},
                {"apiVersion": "stratopt.io/v1alpha1", "kind": "OptimizationRun", "name": "rsi"},
            ],
        }
    }
    assert owning_run(owned) == RUN
    foreign = {
        "metadata": {
            "namespace": "research",
            "ownerReferences": [
                {"apiVersion": "example.com/v1", "kind": "OptimizationRun", "name": "rsi"}
            ],
        }
    }
    assert owning_run(foreign) is None
    assert owning_run({"metadata": {"namespace": "research"}}) is None


def test_a_result_a_worker_stores_wakes_its_run_and_the_operators_inputs_do_not() -> None:
    """The results watch's label filter, as kopf matches it, selects what a worker
    writes, not the shard inputs the operator writes itself."""
    import kopf
    from kopf._core.intents.registries import _matches_metadata

    import stratopt.operator.handlers  # noqa: F401  (registers the handlers)
    from stratopt.jobs.worker import Task, Worker, WorkerStep
    from stratopt.operator.manifests import build_shard_configmaps

    written: list[dict[str, Any]] = []

    class Store:
        def store_config_map(self, namespace: str, configmap: dict[str, Any]) -> None:
            written.append(configmap)

    task = Task(WorkerStep.EVALUATE, "OptimizationRun", "rsi", "research", "v")
    body = {"metadata": {"name": "rsi", "uid": "u"}, "spec": {}}
    Worker(Store(), task, body).write("rsi-v-b0-s0", {"metrics.json": "[]"})  # type: ignore[arg-type]
    [result] = written
    [inputs] = build_shard_configmaps("rsi", "research", "u", "v", 0, [[{"a": 1.0}]])
    [handler] = [
        h
        for h in kopf.get_default_registry()._watching.get_all_handlers()
        if h.id == "results-watch"
    ]

    def selected(configmap: dict[str, Any]) -> bool:
        labels = configmap["metadata"]["labels"]
        return _matches_metadata(pattern=handler.labels, content=labels, kwargs={}, cause=None)  # type: ignore[arg-type]

    assert selected(result) and not selected(inputs)
    assert owning_run(result) == RunKey("OptimizationRun", "research", "rsi")


def test_a_run_being_reconciled_is_never_due_and_stays_marked_for_after() -> None:
    queue = RunQueue(resync=10)
    queue.mark(RUN)
    assert queue.due(now=0) == [RUN]
    queue.mark(RUN)  # an event while its reconcile runs
    queue.mark(OTHER)
    assert queue.due(now=1, busy={RUN}) == [OTHER]
    assert queue.wait(now=1, busy={RUN}) == 10  # OTHER's resync; RUN waits for its turn
    assert queue.due(now=2) == [RUN]  # done: its mark is served


def test_at_most_limit_runs_are_due_at_once_the_rest_wait_their_turn() -> None:
    queue = RunQueue(resync=10)
    keys = [RunKey("OptimizationRun", "research", f"r{i}") for i in range(5)]
    for key in keys:
        queue.mark(key)
    first = queue.due(now=0, limit=2)
    assert first == keys[:2]
    assert queue.due(now=0, busy=first, limit=2) == keys[2:4]
    assert queue.due(now=0, limit=2) == keys[4:]


def test_failures_in_a_row_end_in_an_outage_that_says_how_long_and_why() -> None:
    queue = RunQueue(resync=1)
    assert queue.succeeded(RUN, now=0) is None  # nothing failed: nothing to say
    queue.failed(RUN, now=10, why="the API server did not answer: ConnectionRefused")
    queue.failed(RUN, now=11, why="the API server did not answer: ReadTimeout")
    queue.failed(RUN, now=13, why="the API answered 503 Service Unavailable: etcd")
    outage = queue.succeeded(RUN, now=42)
    assert outage is not None and outage.worth_saying
    assert outage.message() == (
        "the run could not be reconciled for 32 s (3 attempts; the last: the API answered "
        "503 Service Unavailable: etcd); it carries on from what its pods stored"
    )
    assert queue.succeeded(RUN, now=50) is None  # said once


def test_a_single_failure_retried_at_once_is_not_worth_an_event() -> None:
    queue = RunQueue(resync=1)
    queue.failed(RUN, now=0, why="the API answered 409 Conflict")
    outage = queue.succeeded(RUN, now=1)
    assert outage is not None and not outage.worth_saying
