"""The operator's pure parts: manifests, conditions, phase and Job outcome."""

from __future__ import annotations

import json

from stratopt.api.v1alpha1.status import RunStatus
from stratopt.operator import status
from stratopt.operator.manifests import (
    build_event,
    build_run_job,
    build_shard_configmaps,
    build_worker_rbac,
)
from stratopt.operator.queue import RunKey
from stratopt.operator.snapshot import job_outcome
from stratopt.runtime.protocol import (
    BAD_INPUT_EXIT_CODE,
    batch_job_name,
    revision,
    run_label,
    run_selector,
)
from stratopt.runtime.stored import result_name, shards_per_input
from stratopt.settings import JobSettings


def test_run_job_manifest() -> None:
    job = build_run_job("OptimizationRun", "rsi", "ns", "uid-1", "0123456789", {}, JobSettings())
    assert job["metadata"]["name"] == "rsi-0123456789"
    assert job["metadata"]["labels"]["stratopt.io/revision"] == "0123456789"
    assert job["spec"]["suspend"] is False
    assert job["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"][:4] == ["python", "-m", "stratopt.jobs", "run"]
    assert container["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["serviceAccountName"] == "stratopt-worker" and pod["restartPolicy"] == "Never"
    assert pod["shareProcessNamespace"] is True  # the worker is not PID 1: SIGTERM stops it
    rule, stopped = job["spec"]["podFailurePolicy"]["rules"][:2]
    assert rule["action"] == "FailJob" and rule["onExitCodes"]["values"] == [BAD_INPUT_EXIT_CODE]
    assert stopped["action"] == "Ignore" and stopped["onExitCodes"]["values"] == [143]
    assert "limits" not in container["resources"]


def test_gpu_forecast_job_asks_for_gpus_with_defaults_for_nvidia_nodes() -> None:
    spec = {"resources": {"gpu": 2, "memory": "8Gi"}}
    job = build_run_job("ForecastRun", "fc", "ns", "u", "r", spec, JobSettings())
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    assert pod["containers"][0]["resources"]["requests"]["memory"] == "8Gi"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert pod["containers"][0]["image"] == JobSettings().gpu_image


def test_worker_role_grants_only_what_workers_use() -> None:
    _, role, binding = build_worker_rbac("ns", JobSettings())
    verbs = {(tuple(r["resources"]), tuple(r["verbs"])) for r in role["rules"]}
    assert verbs == {
        (("featureanalyses", "forecastruns", "optimizationruns"), ("get",)),
        (("configmaps",), ("get", "list", "watch", "create", "update")),
    }
    assert binding["subjects"][0]["name"] == "stratopt-worker"


NEW = RunStatus()


def test_the_workers_network_policy_lets_them_reach_what_a_run_needs_only() -> None:
    from stratopt.operator.manifests import NON_PUBLIC, build_worker_network_policy

    settings = JobSettings(api_server_cidrs="10.96.0.10/32, 10.96.0.11/32", data_ports="443")
    policy = build_worker_network_policy("research", settings)
    spec = policy["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app.kubernetes.io/managed-by": "stratopt"}}
    assert spec["ingress"] == [] and spec["policyTypes"] == ["Ingress", "Egress"]
    dns, api_server, data = spec["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert api_server == {
        "ports": [{"protocol": "TCP", "port": 6443}],
        "to": [{"ipBlock": {"cidr": "10.96.0.10/32"}}, {"ipBlock": {"cidr": "10.96.0.11/32"}}],
    }
    assert data["ports"] == [{"protocol": "TCP", "port": 443}]
    v4 = data["to"][0]["ipBlock"]
    assert v4["cidr"] == "0.0.0.0/0" and set(NON_PUBLIC) <= set(v4["except"])
    assert "169.254.0.0/16" in v4["except"], "cloud metadata stays out of reach"
    anywhere = build_worker_network_policy("research", JobSettings())["spec"]["egress"][1]
    assert "to" not in anywhere, "no API server address given: any, on its port"


def test_conditions_are_transition_aware() -> None:
    first = status.set_condition([], "Succeeded", "False", "InProgress", "a", "t1")
    same = status.set_condition(first, "Succeeded", "False", "InProgress", "b", "t2")
    assert same[0].last_transition_time == "t1" and same[0].message == "b"
    flipped = status.set_condition(same, "Succeeded", "True", "Completed", "", "t3")
    assert flipped[0].last_transition_time == "t3"
    assert status.phase_of(flipped) == "Succeeded"
    assert (
        status.phase_of(status.set_condition([], "Reconciling", "True", "x", "", "t")) == "Running"
    )
    assert status.phase_of([]) == "Pending"


def test_status_patches() -> None:
    running = status.running(NEW, 2, "Job created", "t1")
    assert running.phase == "Running" and running.observed_generation == 2
    done = status.succeeded(running, 2, [], "t2")
    fields = status.result_fields({"best": {"x": 1}, "phase": "ignored"})
    assert done.phase == "Succeeded" and fields == {"best": {"x": 1}}
    assert done.start_time == "t1" and done.completion_time == "t2"
    failed = status.failed(running, 2, "InvalidData", "spec.backtest.data.source: ...", "t3")
    assert failed.phase == "Failed"


def test_job_outcome() -> None:
    assert job_outcome({"status": {}}) == ("Running", "")
    complete = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert job_outcome(complete) == ("Succeeded", "Completed")
    failed = {
        "status": {
            "conditions": [{"type": "Failed", "status": "True", "reason": "PodFailurePolicy"}]
        }
    }
    assert job_outcome(failed) == ("Failed", "PodFailurePolicy")


def _metric(name: str, kind: str, phase: str) -> float:
    from stratopt.operator import monitoring

    sample = monitoring.REGISTRY.get_sample_value(name, {"kind": kind, "phase": phase})
    return sample or 0.0


def test_phase_metrics_follow_transitions() -> None:
    from stratopt.operator import monitoring

    run = RunKey("Probe", "ns", "a")
    monitoring.record_phase(run, None, "Running")
    monitoring.record_phase(run, "Running", "Running")
    assert _metric("stratopt_runs", "Probe", "Running") == 1
    monitoring.record_phase(run, "Running", "Succeeded")
    assert _metric("stratopt_runs", "Probe", "Running") == 0
    assert _metric("stratopt_runs", "Probe", "Succeeded") == 1
    assert _metric("stratopt_runs_finished_total", "Probe", "Succeeded") == 1
    monitoring.CENSUS.observe(run, None)  # deleted
    assert _metric("stratopt_runs", "Probe", "Succeeded") == 0


def test_the_runs_gauge_is_right_after_a_restart() -> None:
    """A restarted operator first lists every run, then sees one it never saw start
    finish: the gauge counts what exists, and never goes below zero."""
    from prometheus_client import CollectorRegistry, Gauge

    from stratopt.operator.monitoring import PhaseCensus

    registry = CollectorRegistry()
    census = PhaseCensus(Gauge("runs", "runs", ["kind", "phase"], registry=registry))

    def count(phase: str) -> float:
        return registry.get_sample_value("runs", {"kind": "Restart", "phase": phase}) or 0.0

    running, done = RunKey("Restart", "ns", "running"), RunKey("Restart", "ns", "done")
    census.observe(running, "Running")  # kopf's first listing
    census.observe(done, "Succeeded")
    assert (count("Running"), count("Succeeded")) == (1, 1)
    census.observe(running, "Succeeded")
    assert (count("Running"), count("Succeeded")) == (0, 2)
    census.observe(done, None)
    census.observe(done, None)  # a second DELETED event changes nothing
    assert (count("Running"), count("Succeeded")) == (0, 1)


def test_revision_ignores_suspend_only() -> None:
    spec = {"seed": 1, "backtest": {"data": {"source": "synthetic:gbm"}}}
    assert (
        revision(spec)
        == revision({**spec, "suspend": True})
        == revision(dict(reversed(spec.items())))
    )
    assert revision(spec) != revision({**spec, "seed": 2})


def test_long_names_are_shortened_with_a_hash_before_the_revision() -> None:
    name = "a" * 80
    job = batch_job_name(name, "0123456789", 12)
    assert len(job) == 63 and job.endswith("-0123456789-b12")
    assert result_name(name, "0123456789").endswith("-0123456789-result")
    # Two long names sharing their head still get Jobs, labels and results of their own.
    other = "a" * 79 + "b"
    assert batch_job_name(other, "0123456789", 12) != job
    assert run_label(name) != run_label(other)
    longest = "x." * 126 + "y"
    assert len(longest) == 253
    for made in (run_label(longest), batch_job_name(longest, "0123456789", 0)):
        assert len(made) <= 63 and made[0].isalnum() and made[-1].isalnum()
    assert len(result_name(longest, "0123456789")) <= 253
    # Names that fit are kept as they are.
    assert run_label("rsi-genetic") == "rsi-genetic"
    assert run_selector("rsi", "r1") == "stratopt.io/run=rsi,stratopt.io/revision=r1"
    job_manifest = build_run_job("OptimizationRun", longest, "ns", "u", "r", {}, JobSettings())
    assert job_manifest["metadata"]["annotations"]["stratopt.io/run-name"] == longest
    assert job_manifest["metadata"]["labels"]["stratopt.io/run"] == run_label(longest)
    event = build_event("OptimizationRun", longest, "ns", "u", "Started", "", "t")
    assert len(event["metadata"]["generateName"]) + 5 <= 253


def test_pods_refused_at_creation_stall_the_run_until_one_is_created() -> None:
    def event(reason: str, at: str, message: str = "") -> dict[str, str]:
        return {"reason": reason, "lastTimestamp": at, "message": message}

    quota = 'pods "x" is forbidden: exceeded quota: no-pods, requested: pods=1'
    refused = [event("FailedCreate", "2026-12-02T10:00:01Z", quota)]
    message = status.pod_creation_failure(refused)
    assert message == f"the Job cannot create its pods: {quota}"
    later = [*refused, event("SuccessfulCreate", "2026-12-02T10:00:09Z", "Created pod: x")]
    assert status.pod_creation_failure(later) is None
    again = [*later, event("FailedCreate", "2026-12-02T10:01:00Z", "admission denied")]
    assert status.pod_creation_failure(again) == "the Job cannot create its pods: admission denied"
    assert status.pod_creation_failure([event("Completed", "2026-12-02T10:00:00Z")]) is None


def test_finished_is_true_at_either_end_and_false_on_the_way() -> None:
    def finished(patch: RunStatus) -> tuple[str, str]:
        found = next(c for c in patch.conditions if c.type == "Finished")
        return found.status, found.reason

    running = status.running(NEW, 1, "Job running", "t1")
    assert finished(running) == ("False", "InProgress")
    assert finished(status.suspended(running, 1, "t2")) == ("False", "Suspended")
    assert finished(status.stalled(running, 1, "FailedCreate", "quota", "t2")) == (
        "False",
        "InProgress",
    )
    assert finished(status.succeeded(running, 1, [], "t3")) == ("True", "Succeeded")
    assert finished(status.failed(running, 1, "InvalidData", "spec.x: bad", "t3")) == (
        "True",
        "Failed",
    )


def test_suspension_is_a_phase_of_its_own_and_resuming_clears_it() -> None:
    running = status.running(NEW, 1, "Job created", "t1")
    paused = status.suspended(running, 2, "t2")
    assert paused.phase == "Suspended"
    assert {c.type: c.status for c in paused.conditions}["Reconciling"] == "False"
    resumed = status.running(paused, 3, "Job running", "t3")
    assert resumed.phase == "Running" and resumed.start_time == "t1"
    assert {c.type: c.reason for c in resumed.conditions}["Suspended"] == "Resumed"
    assert "Suspended" not in {c.type for c in running.conditions}


def test_event_points_at_the_run() -> None:
    event = build_event(
        "OptimizationRun", "rsi", "ns", "u1", "Failed", "x" * 2000, "t", warning=True
    )
    assert event["involvedObject"]["uid"] == "u1" and event["type"] == "Warning"
    assert event["metadata"]["generateName"] == "rsi." and len(event["message"]) == 1024


def test_a_pod_no_node_fits_stalls_the_run_until_it_is_scheduled() -> None:
    pending = {
        "status": {
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/2 nodes are available: 2 Insufficient nvidia.com/gpu.",
                }
            ]
        }
    }
    message = status.unschedulable_message([{"status": {}}, pending])
    assert message is not None and "Insufficient nvidia.com/gpu" in message
    assert status.unschedulable_message([{"status": {"conditions": []}}]) is None
    stalled = status.stalled(NEW, 1, "Unschedulable", message, "t1")
    assert stalled.phase == "Pending"
    kinds = {c.type: (c.status, c.reason) for c in stalled.conditions}
    assert kinds["Stalled"] == ("True", "Unschedulable")
    assert kinds["Reconciling"] == ("False", "Unschedulable"), "kstatus reads Reconciling first"
    scheduled = status.running(stalled, 1, "Job running", "t2")
    assert scheduled.phase == "Running"
    assert {c.type: c.status for c in scheduled.conditions}["Stalled"] == "False"


def test_a_large_batch_is_split_over_configmaps_under_the_size_limit() -> None:
    params = [
        {"stop_loss": 20.0 + i / 7, "take_profit": 40.0 + i / 3, "size": 0.1 + i / 1e5}
        for i in range(30_000)
    ]
    shards = [params[i : i + 60] for i in range(0, len(params), 60)]
    inputs = build_shard_configmaps("big", "ns", "u", "rev", 3, shards)
    per_input = shards_per_input(shards)
    assert len(inputs) > 1
    assert all(len(json.dumps(configmap)) < 1024 * 1024 for configmap in inputs)
    for index, shard in enumerate(shards):
        part = inputs[index // per_input]
        assert part["metadata"]["name"] == f"big-rev-b3-in{index // per_input}"
        assert json.loads(part["data"][f"shard-{index}"]) == shard
    assert sum(len(configmap["data"]) for configmap in inputs) == len(shards)


def test_waiting_for_an_analysis_is_in_progress_and_a_failure_is_stalled() -> None:
    """The conditions kstatus (Flux) reads: Reconciling while waiting, Stalled on failure."""
    waiting = status.waiting(NEW, 1, "WaitingForFeatureAnalysis", "no analysis yet", "t1")
    kinds = {c.type: (c.status, c.reason) for c in waiting.conditions}
    assert waiting.phase == "Pending"
    assert kinds["Reconciling"] == ("True", "WaitingForFeatureAnalysis")
    assert "Stalled" not in kinds
    failed = status.failed(waiting, 1, "InvalidData", "spec.x: bad", "t2")
    kinds = {c.type: (c.status, c.reason) for c in failed.conditions}
    assert failed.phase == "Failed"
    assert kinds["Stalled"] == kinds["Failed"] == ("True", "InvalidData")
    assert kinds["Reconciling"][0] == "False"


def test_a_stalled_run_seen_again_keeps_its_transition_times() -> None:
    """Each reconcile of a stalled run computes the same status: nothing to patch."""
    first = status.stalled(NEW, 1, "Unschedulable", "no node", "t1")
    again = status.stalled(first, 1, "Unschedulable", "no node", "t2")
    assert again == first


def test_a_failed_workers_report_gives_the_reason_the_field_and_one_clear_message() -> None:
    from stratopt.runtime.protocol import WorkerFailure, failure_report, read_failure

    bad = WorkerFailure(
        "InvalidData",
        "spec.backtest.data.source: file not found: C:/x.csv",
        "spec.backtest.data.source",
    )
    assert read_failure(failure_report(bad) + "\n", "PodFailurePolicy") == bad
    unnamed = WorkerFailure("ReplayMismatch", "batch 2: shard 1 differs")
    assert "field" not in json.loads(failure_report(unnamed))
    assert read_failure(failure_report(unnamed), "PodFailurePolicy") == unnamed
    # A crash leaves no report: the message is the tail of the log, the reason the Job's.
    crashed = 'Traceback (most recent call last):\n  File "x.py"\nRuntimeError: out of disk: /tmp'
    assert read_failure(crashed, "BackoffLimitExceeded") == (
        "BackoffLimitExceeded",
        "the worker failed: RuntimeError: out of disk: /tmp",
        None,
    )
    assert read_failure("", "") == ("JobFailed", "the worker failed: no message", None)
