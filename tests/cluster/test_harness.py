"""The harness itself: real Jobs run to completion through the Job controller, and
extended resources steer scheduling, with pods executed by the node agent."""

from __future__ import annotations

from kubernetes import client

from tests.cluster.conftest import wait_for
from tests.cluster.node_agent import CPU_NODE, GPU_NODE, NodeAgent

INDEX_REPORT = (
    "import os, sys; from kubernetes import client, config; "
    "config.load_kube_config(); i = os.environ['JOB_COMPLETION_INDEX']; "
    "client.CoreV1Api().create_namespaced_config_map(os.environ['NS'], "
    "client.V1ConfigMap(metadata=client.V1ObjectMeta(name='index-' + i), "
    "data={'index': i, 'pod': os.environ['POD']}))"
)


def _allow_configmaps(api: client.ApiClient, namespace: str) -> None:
    rbac = client.RbacAuthorizationV1Api(api)
    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="write-configmaps"),
            rules=[
                client.V1PolicyRule(
                    api_groups=[""], resources=["configmaps"], verbs=["create", "get"]
                )
            ],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="write-configmaps"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name="write-configmaps"
            ),
            subjects=[
                client.RbacV1Subject(kind="ServiceAccount", name="default", namespace=namespace)
            ],
        ),
    )


def _job(
    name: str, command: list[str], completions: int = 1, resources: dict[str, str] | None = None
) -> client.V1Job:
    env = [
        client.V1EnvVar(
            name="NS",
            value_from=client.V1EnvVarSource(
                field_ref=client.V1ObjectFieldSelector(field_path="metadata.namespace")
            ),
        ),
        client.V1EnvVar(
            name="POD",
            value_from=client.V1EnvVarSource(
                field_ref=client.V1ObjectFieldSelector(field_path="metadata.name")
            ),
        ),
    ]
    container = client.V1Container(
        name="main",
        image="stratopt:test",
        command=command,
        env=env,
        resources=client.V1ResourceRequirements(limits=resources) if resources else None,
    )
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(
            completions=completions,
            parallelism=completions,
            completion_mode="Indexed",
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(containers=[container], restart_policy="Never")
            ),
        ),
    )


def _condition(job: client.V1Job, kind: str) -> bool:
    return any(c.type == kind and c.status == "True" for c in (job.status.conditions or []))


def test_indexed_job_completes_with_each_index(
    api: client.ApiClient, namespace: str, node_agent: NodeAgent
) -> None:
    _allow_configmaps(api, namespace)
    batch = client.BatchV1Api(api)
    batch.create_namespaced_job(namespace, _job("indexed", ["python", "-c", INDEX_REPORT], 3))
    job = wait_for(
        lambda: (
            (j := batch.read_namespaced_job("indexed", namespace))
            and (_condition(j, "Complete") or _condition(j, "Failed"))
            and j
        ),
        "the Job to finish",
    )
    assert _condition(job, "Complete"), f"job failed: {job.status}; agent: {node_agent.errors}"
    assert job.status.succeeded == 3
    core = client.CoreV1Api(api)
    reports = {
        cm.data["index"]: cm.data["pod"]
        for cm in core.list_namespaced_config_map(namespace).items
        if cm.metadata.name.startswith("index-")
    }
    assert sorted(reports) == ["0", "1", "2"]
    assert all(pod.startswith("indexed-") for pod in reports.values())


def test_gpu_limit_lands_on_the_gpu_node_only(
    api: client.ApiClient, namespace: str, node_agent: NodeAgent
) -> None:
    batch = client.BatchV1Api(api)
    core = client.CoreV1Api(api)
    batch.create_namespaced_job(
        namespace, _job("gpu", ["python", "-c", "pass"], 1, {"nvidia.com/gpu": "1"})
    )
    batch.create_namespaced_job(
        namespace, _job("too-many-gpus", ["python", "-c", "pass"], 1, {"nvidia.com/gpu": "8"})
    )
    pod = wait_for(
        lambda: next(
            (
                p
                for p in core.list_namespaced_pod(namespace, label_selector="job-name=gpu").items
                if p.spec.node_name
            ),
            None,
        ),
        "the GPU pod to be scheduled",
    )
    assert pod.spec.node_name == GPU_NODE
    wait_for(
        lambda: _condition(batch.read_namespaced_job("gpu", namespace), "Complete"),
        "the GPU job to complete",
    )
    unschedulable = wait_for(
        lambda: next(
            (
                p
                for p in core.list_namespaced_pod(
                    namespace, label_selector="job-name=too-many-gpus"
                ).items
                if any(
                    c.type == "PodScheduled" and c.reason == "Unschedulable"
                    for c in (p.status.conditions or [])
                )
            ),
            None,
        ),
        "an Unschedulable condition",
    )
    assert unschedulable.spec.node_name is None
    message = next(c.message for c in unschedulable.status.conditions if c.type == "PodScheduled")
    assert "nvidia.com/gpu" in message
    assert CPU_NODE != GPU_NODE
