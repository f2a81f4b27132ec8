"""``stratopt.client`` against the test cluster: submit, wait with progress, typed results
equal to ``run_local``'s, refusals and failures as exceptions naming the field, and
list, get, suspend, resume and delete."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as kubernetes

from stratopt.client import Client, Rejected, RunFailed, WaitTimeout, run_local
from tests.cluster.controlplane import ControlPlane
from tests.cluster.operator_process import OperatorProcess
from tests.cluster.test_operating import small_run


def test_the_seeds_workflow_through_the_client(
    control_plane: ControlPlane, namespace: str, cli_operator: OperatorProcess
) -> None:
    client = Client(namespace, kubeconfig=control_plane.kubeconfig)
    document = small_run("client-genetic")
    seen: list[dict[str, Any]] = []
    run = client.submit(document)
    result = run.wait(timeout=240, progress=seen.append, poll=0.5)
    local = run_local(document)
    assert result.kind == "OptimizationRun" and result.phase == "Succeeded"
    assert [s.model_dump() for s in result.pareto_front] == [
        s.model_dump() for s in local.pareto_front
    ]
    assert result.best_parameters == local.best_parameters
    assert result.iterations_completed == local.iterations_completed == 60
    assert seen and seen[-1]["evaluationsCompleted"] == 60
    # What a quant takes away, from the cluster as from here: a pick's trades and equity.
    trades, equity = result.trades("aggressive"), result.equity("aggressive")
    assert trades.equals(local.trades("aggressive")) and equity.equals(local.equity("aggressive"))
    aggressive = result.status.picks.aggressive
    assert trades["pnl"].sum() == pytest.approx(aggressive.metrics["net_profit"], rel=1e-9)
    assert result.status.benchmark == local.status.benchmark
    assert [(r.kind, r.name) for r in client.list()] == [("OptimizationRun", "client-genetic")]
    assert client.get("OptimizationRun", "client-genetic").phase == "Succeeded"


def test_refusals_and_failures_raise_naming_the_field(
    control_plane: ControlPlane, namespace: str, cli_operator: OperatorProcess
) -> None:
    client = Client(namespace, kubeconfig=control_plane.kubeconfig)
    tiny = small_run("tiny", algorithm={"name": "nsga2", "nsga2": {"populationSize": 2}})
    with pytest.raises(Rejected) as refused:
        client.submit(tiny)
    assert refused.value.field == "spec.algorithm.nsga2.populationSize", refused.value
    assert "greater than or equal to 4" in refused.value.message
    missing = small_run("missing")
    missing["spec"]["backtest"]["data"]["source"] = "/data/absent.csv"
    with pytest.raises(RunFailed) as failed:
        client.submit(missing).wait(timeout=120, poll=0.5)
    assert failed.value.field == "spec.backtest.data.source", failed.value
    assert failed.value.message.startswith("file not found: /data/absent.csv")
    assert failed.value.reason == "InvalidData"


def test_suspend_resume_and_delete(
    api: kubernetes.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    cli_operator: OperatorProcess,
) -> None:
    client = Client(namespace, kubeconfig=control_plane.kubeconfig)
    run = client.submit(small_run("pausable"))
    run.suspend()  # at once: the run's pod has not started its search yet
    with pytest.raises(WaitTimeout, match="pausable is Suspended"):
        run.wait(timeout=15, poll=0.5)
    run.resume()
    assert run.wait(timeout=240, poll=0.5).phase == "Succeeded"
    run.delete()
    objects = kubernetes.CustomObjectsApi(api)
    items = objects.list_namespaced_custom_object(
        "stratopt.io", "v1alpha1", namespace, "optimizationruns"
    )["items"]
    assert not items
