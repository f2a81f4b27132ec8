"""The harness itself: a real node runs Jobs in runc containers from the project's worker
image, under the restricted Pod Security profile, with the security context enforced by
the kubelet and extended resources steering scheduling."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from tests.cluster.conftest import wait_for
from tests.cluster.node import NODE_NAME, Node

INDEX_REPORT = (
    "import os; from kubernetes import client, config; "
    "config.load_incluster_config(); i = os.environ['JOB_COMPLETION_INDEX']; "
    "client.CoreV1Api().create_namespaced_config_map(os.environ['NS'], "
    "client.V1ConfigMap(metadata=client.V1ObjectMeta(name='index-' + i), "
    "data={'index': i, 'pod': os.environ['POD']}))"
)
RESTRICTED_CONTEXT = client.V1SecurityContext(
    run_as_non_root=True,
    run_as_user=10001,
    read_only_root_filesystem=True,
    allow_privilege_escalation=False,
    capabilities=client.V1Capabilities(drop=["ALL"]),
    seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"),
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


def _container(image: str, command: list[str], limits: dict[str, str] | None = None) -> Any:
    env = [
        client.V1EnvVar(
            name=name,
            value_from=client.V1EnvVarSource(
                field_ref=client.V1ObjectFieldSelector(field_path=f"metadata.{path}")
            ),
        )
        for name, path in (("NS", "namespace"), ("POD", "name"))
    ]
    return client.V1Container(
        name="main",
        image=image,
        image_pull_policy="Never",
        command=command,
        env=env,
        resources=client.V1ResourceRequirements(
            requests={"cpu": "50m", "memory": "64Mi"}, limits=limits
        ),
        security_context=RESTRICTED_CONTEXT,
        volume_mounts=[client.V1VolumeMount(name="tmp", mount_path="/tmp")],
    )


def _pod_spec(container: Any) -> client.V1PodSpec:
    return client.V1PodSpec(
        containers=[container],
        restart_policy="Never",
        volumes=[client.V1Volume(name="tmp", empty_dir=client.V1EmptyDirVolumeSource())],
    )


def _job(
    name: str, image: str, command: list[str], completions: int = 1, **limits: str
) -> client.V1Job:
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(
            completions=completions,
            parallelism=completions,
            completion_mode="Indexed",
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                spec=_pod_spec(_container(image, command, limits or None))
            ),
        ),
    )


def _condition(job: client.V1Job, kind: str) -> bool:
    return any(c.type == kind and c.status == "True" for c in (job.status.conditions or []))


def _finished(batch: client.BatchV1Api, namespace: str, name: str) -> client.V1Job:
    job: client.V1Job = wait_for(
        lambda: (
            (j := batch.read_namespaced_job(name, namespace))
            and (_condition(j, "Complete") or _condition(j, "Failed"))
            and j
        ),
        f"Job {name} to finish",
        120,
    )
    return job


def _terminated(core: client.CoreV1Api, namespace: str, name: str) -> Any:
    def state() -> Any:
        statuses = core.read_namespaced_pod(name, namespace).status.container_statuses or []
        return statuses and statuses[0].state.terminated

    return wait_for(state, f"pod {name}'s container to end", 120)


def _log(core: client.CoreV1Api, namespace: str, name: str) -> str:
    """The pod's log so far; empty while its container has not started."""
    try:
        return core.read_namespaced_pod_log(name, namespace) or ""
    except client.ApiException:
        return ""


def _run_pod(core: client.CoreV1Api, namespace: str, name: str, container: Any) -> None:
    core.create_namespaced_pod(
        namespace, client.V1Pod(metadata=client.V1ObjectMeta(name=name), spec=_pod_spec(container))
    )


def test_indexed_job_in_containers_reaches_the_api_through_its_service(
    api: client.ApiClient, namespace: str, node: Node, images: dict[str, Any]
) -> None:
    _allow_configmaps(api, namespace)
    batch = client.BatchV1Api(api)
    job = _job("indexed", images["worker"], ["python", "-c", INDEX_REPORT], 3)
    batch.create_namespaced_job(namespace, job)
    done = _finished(batch, namespace, "indexed")
    assert _condition(done, "Complete"), f"job failed: {done.status}"
    assert done.status.succeeded == 3
    core = client.CoreV1Api(api)
    reports = {
        cm.data["index"]: cm.data["pod"]
        for cm in core.list_namespaced_config_map(namespace).items
        if cm.metadata.name.startswith("index-")
    }
    assert sorted(reports) == ["0", "1", "2"]
    assert all(pod.startswith("indexed-") for pod in reports.values())
    pods = core.list_namespaced_pod(namespace, label_selector="job-name=indexed").items
    assert {p.status.container_statuses[0].container_id.split("://")[0] for p in pods} == {
        "containerd"
    }


def test_restricted_profile_refuses_a_pod_that_breaks_it(
    api: client.ApiClient, namespace: str, node: Node, images: dict[str, Any]
) -> None:
    core = client.CoreV1Api(api)
    loose = _container(images["worker"], ["python", "-c", "pass"])
    loose.security_context = None
    with pytest.raises(client.ApiException) as refused:
        _run_pod(core, namespace, "loose", loose)
    assert refused.value.status == 403
    message = json.loads(refused.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest"' in message, message


def test_kubelet_enforces_the_read_only_root_and_the_user(
    api: client.ApiClient, namespace: str, node: Node, images: dict[str, Any]
) -> None:
    probe = (
        "import json, os\n"
        "def writes(path):\n"
        "    try:\n"
        "        open(path, 'w').close()\n"
        "        return 'written'\n"
        "    except OSError as e:\n"
        "        return e.strerror\n"
        "print(json.dumps({'uid': os.getuid(), 'root': writes('/probe'),"
        " 'tmp': writes('/tmp/probe')}))"
    )
    core = client.CoreV1Api(api)
    _run_pod(core, namespace, "probe", _container(images["worker"], ["python", "-c", probe]))
    assert _terminated(core, namespace, "probe").exit_code == 0
    seen = json.loads(_log(core, namespace, "probe").strip())
    assert seen == {"uid": 10001, "root": "Read-only file system", "tmp": "written"}


def test_worker_exits_on_sigterm_and_loads_the_prebuilt_kernels(
    api: client.ApiClient, namespace: str, node: Node, images: dict[str, Any]
) -> None:
    """As PID 1, a worker stops at once on SIGTERM (exit 143, not the SIGKILL after the
    grace period), and it runs the engine from the kernels compiled into its image."""
    core = client.CoreV1Api(api)
    compiled = (
        "from stratopt.jobs._startup import prepare_process\n"
        "prepare_process()\n"
        "from stratopt.jobs.worker import compile_kernels\n"
        "from stratopt.backtest import _kernel\n"
        "compile_kernels()\n"
        "stats = _kernel.simulate.stats\n"
        "print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()), flush=True)\n"
        "import time\n"
        "time.sleep(600)\n"
    )
    _run_pod(core, namespace, "worker", _container(images["worker"], ["python", "-c", compiled]))
    log = wait_for(
        lambda: _log(core, namespace, "worker").strip(),
        "the worker to report its cache",
        120,
    )
    hits, misses = map(int, log.split())
    assert (hits > 0, misses) == (True, 0), log
    container_id = core.read_namespaced_pod("worker", namespace).status.container_statuses[0]
    stopped = node.crictl("stop", "--timeout", "20", container_id.container_id.split("://")[1])
    assert stopped.returncode == 0, stopped.stderr
    assert _terminated(core, namespace, "worker").exit_code == 143


def test_gpu_limit_schedules_on_advertised_gpus_only(
    api: client.ApiClient, namespace: str, node: Node, images: dict[str, Any]
) -> None:
    batch = client.BatchV1Api(api)
    core = client.CoreV1Api(api)
    quick = ["python", "-c", "pass"]
    batch.create_namespaced_job(
        namespace, _job("gpu", images["gpuWorker"], quick, **{"nvidia.com/gpu": "1"})
    )
    batch.create_namespaced_job(
        namespace, _job("too-many-gpus", images["gpuWorker"], quick, **{"nvidia.com/gpu": "8"})
    )
    assert _condition(_finished(batch, namespace, "gpu"), "Complete")
    (pod,) = core.list_namespaced_pod(namespace, label_selector="job-name=gpu").items
    assert pod.spec.node_name == NODE_NAME

    def unschedulable() -> Any:
        pods = core.list_namespaced_pod(namespace, label_selector="job-name=too-many-gpus").items
        return next(
            (
                c
                for p in pods
                for c in (p.status.conditions or [])
                if c.type == "PodScheduled" and c.reason == "Unschedulable"
            ),
            None,
        )

    condition = wait_for(unschedulable, "an Unschedulable condition")
    assert "Insufficient nvidia.com/gpu" in condition.message


def test_a_node_that_cannot_run_pods_says_why(api: client.ApiClient, node: Node) -> None:
    """The node's start-up check names the cause when a pod cannot run (here an image
    the node lacks), with the node's conditions and free disk space beside it."""
    with pytest.raises(RuntimeError) as failed:
        node.check_runs_a_pod(
            client.CoreV1Api(api), "absent-image", "stratopt-absent:dev", timeout=15
        )
    diagnosis = str(failed.value)
    assert "check pod ended Pending" in diagnosis, diagnosis
    assert "ErrImageNeverPull" in diagnosis, diagnosis
    assert "node: Ready=True" in diagnosis and "GiB free" in diagnosis, diagnosis
