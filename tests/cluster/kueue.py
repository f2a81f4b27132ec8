"""A real Kueue in the test cluster: its controller manager built from the Go module proxy
(``hack/build-cluster.sh``), packed as an image (``hack/build-kueue-image.sh``), imported
into the node and deployed from its own manifests (config/default): its webhooks, with
the certificates it makes and rotates itself.

Two changes make it a fair tenant of a cluster that other tests share: its Job webhooks
serve only namespaces labelled :data:`KUEUE_NAMESPACE` (a webhook that fails closed would
otherwise sit in front of every Job of every test), and its visibility API is not
registered (an aggregated API whose server is down breaks discovery for every client).
Only the ``batch/job`` integration is on, which is the one stratopt's Jobs use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.cluster.controlplane import ControlPlane, built
from tests.cluster.node import Node
from tests.cluster.waiting import wait_for

#: The label of the namespaces whose Jobs Kueue's webhooks see.
KUEUE_NAMESPACE = "stratopt.io/kueue-test"
SYSTEM_NAMESPACE = "kueue-system"
#: The webhooks kept: Jobs (the integration stratopt uses) and Kueue's own objects.
WEBHOOKS = {
    f"{verb}{kind}.kb.io"
    for verb in "mv"
    for kind in ("job", "workload", "clusterqueue", "resourceflavor", "cohort")
}
NAMESPACED_WEBHOOKS = {f"{verb}{kind}.kb.io" for verb in "mv" for kind in ("job", "workload")}
API = "kueue.x-k8s.io/v1beta2"


def manifests(path: Path, image: str) -> list[dict[str, Any]]:
    """Kueue's config/default, deployed from the local image and trimmed as the module's
    docstring says; its requests shrunk to fit beside the tests' pods on two cores."""
    documents = []
    for document in yaml.safe_load_all(path.read_text()):
        if not document or document["kind"] == "APIService":
            continue
        kind = document["kind"]
        if kind == "Deployment":
            container = document["spec"]["template"]["spec"]["containers"][0]
            container.update(image=image, imagePullPolicy="Never")
            container["resources"]["requests"] = {"cpu": "100m", "memory": "128Mi"}
        elif kind == "ConfigMap" and "controller_manager_config.yaml" in document["data"]:
            configuration = yaml.safe_load(document["data"]["controller_manager_config.yaml"])
            configuration["integrations"] = {"frameworks": ["batch/job"]}
            configuration["leaderElection"] = {"leaderElect": False}
            document["data"]["controller_manager_config.yaml"] = yaml.safe_dump(configuration)
        elif kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            document["webhooks"] = [w for w in document["webhooks"] if w["name"] in WEBHOOKS]
            for webhook in document["webhooks"]:
                if webhook["name"] in NAMESPACED_WEBHOOKS:
                    webhook["namespaceSelector"] = {"matchLabels": {KUEUE_NAMESPACE: "true"}}
        documents.append(document)
    return documents


def install(plane: ControlPlane, node: Node) -> None:
    """Import the image, apply the manifests, and wait until the webhooks answer."""
    from tests.cluster.conftest import kubectl

    image = built("build-kueue-image.sh")
    node.ctr("images", "import", image["archive"], timeout=300)
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "items": manifests(Path(image["manifests"]), image["image"]),
    }
    # Server-side: the CRDs are too large for client-side apply's annotation.
    kubectl(plane, "apply", "--server-side", "-f", "-", stdin=json.dumps(listing))
    kubectl(
        plane,
        "wait",
        "-n",
        SYSTEM_NAMESPACE,
        "--for=condition=Available",
        "deployment/kueue-controller-manager",
        "--timeout=240s",
    )
    # Ready once its webhook, with the certificate it made, validates a flavor.
    flavor = {"apiVersion": API, "kind": "ResourceFlavor", "metadata": {"name": "default"}}

    def admitted_by_webhook() -> bool:
        done = kubectl(plane, "apply", "-f", "-", stdin=json.dumps(flavor), check=False)
        return done.returncode == 0

    wait_for(admitted_by_webhook, "Kueue's webhooks to serve", 120)


def apply_all(plane: ControlPlane, documents: list[dict[str, Any]]) -> None:
    from tests.cluster.conftest import kubectl

    listing = {"apiVersion": "v1", "kind": "List", "items": documents}
    kubectl(plane, "apply", "-f", "-", stdin=json.dumps(listing))


def queues(
    namespace: str,
    *,
    flavor: str = "default",
    quota: dict[str, str],
    node_labels: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """A ResourceFlavor, a ClusterQueue holding ``quota`` of it for ``namespace`` alone
    (preempting lower priorities within itself), its LocalQueue ``work``, and the
    WorkloadPriorityClasses ``low`` and ``high``."""
    return [
        {
            "apiVersion": API,
            "kind": "ResourceFlavor",
            "metadata": {"name": flavor},
            "spec": {"nodeLabels": node_labels} if node_labels else {},
        },
        {
            "apiVersion": API,
            "kind": "ClusterQueue",
            "metadata": {"name": namespace},
            "spec": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "preemption": {"withinClusterQueue": "LowerPriority"},
                "resourceGroups": [
                    {
                        "coveredResources": sorted(quota),
                        "flavors": [
                            {
                                "name": flavor,
                                "resources": [
                                    {"name": name, "nominalQuota": amount}
                                    for name, amount in sorted(quota.items())
                                ],
                            }
                        ],
                    }
                ],
            },
        },
        {
            "apiVersion": API,
            "kind": "LocalQueue",
            "metadata": {"name": "work", "namespace": namespace},
            "spec": {"clusterQueue": namespace},
        },
        *(
            {
                "apiVersion": API,
                "kind": "WorkloadPriorityClass",
                "metadata": {"name": name},
                "value": value,
            }
            for name, value in (("low", 100), ("high", 1000))
        ),
    ]
