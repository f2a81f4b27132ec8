"""Operator and Job settings: one typed object, read from ``STRATOPT_*`` variables when
the operator starts, validated then, and passed explicitly to whatever needs it (never
read at import or from a module global)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from stratopt.errors import InputError

#: Every setting is the variable STRATOPT_<FIELD NAME>, e.g. STRATOPT_IMAGE.
PREFIX = "STRATOPT_"


class JobSettings(BaseSettings):
    """How the operator shapes the Jobs it creates."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    image: str = Field(
        default="ghcr.io/stratopt/stratopt:0.1.0",
        description="Worker image (CPU); the image that runs `python -m stratopt.jobs`.",
    )
    gpu_image: str = Field(
        default="ghcr.io/stratopt/stratopt-gpu:0.1.0",
        description="Worker image for forecasts that ask for a GPU.",
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent",
        description="imagePullPolicy of worker containers; Never for images loaded "
        "into the nodes by hand.",
    )
    service_account: str = Field(
        default="stratopt-worker",
        description="ServiceAccount of "
        "worker pods: may read runs and write result ConfigMaps only.",
    )
    backoff_limit: int = Field(
        default=2,
        description="Retries of a failed pod (not counting "
        "bad-input failures, which fail the Job at once).",
    )
    ttl_seconds_after_finished: int = Field(
        default=3600, description="Seconds a finished Job is kept for inspection (s)."
    )
    active_deadline_seconds: int = Field(
        default=6 * 3600, description="Seconds before a Job is stopped whatever it is doing (s)."
    )
    batches_ahead: int = Field(
        default=2,
        ge=0,
        le=8,
        description="Batches of a distributed search whose Jobs start before their turn, "
        "so that their pods have loaded the run when their inputs come; 0 starts each "
        "batch's Job when its inputs are written.",
    )
    cpu_request: str = Field(default="1", description="CPU request of a worker pod.")
    memory_request: str = Field(default="1Gi", description="Memory request of a worker pod.")
    data_schemes: str = Field(
        default="s3,gs,gcs,az,abfs,https,file",
        description="URL schemes a run's data.source may use in worker pods, "
        "comma-separated (file: a local file under data_paths).",
    )
    data_hosts: str = Field(
        default="",
        description="Hosts, host suffixes (.example.com) or URL prefixes (s3://bucket/) "
        "network sources may name, comma-separated; empty allows any public host. "
        "Loopback, link-local and private addresses are refused whatever this says.",
    )
    data_paths: str = Field(
        default="/data",
        description="Folders worker pods may read local data files from (where data "
        "volumes are mounted), comma-separated; empty allows none.",
    )

    worker_network_policy: bool = Field(
        default=False,
        description="Create the stratopt-worker NetworkPolicy beside the workers' "
        "ServiceAccount in each namespace: worker pods take no connections and reach only "
        "DNS, the API server and public addresses on the ports of data sources.",
    )
    api_server_cidrs: str = Field(
        default="",
        description="With worker_network_policy: the API server's addresses as pods reach "
        "it (the endpoints of the kubernetes Service), comma-separated CIDRs; empty "
        "allows any address on api_server_port.",
    )
    api_server_port: int = Field(
        default=6443,
        ge=1,
        le=65535,
        description="With worker_network_policy: the port of those endpoints.",
    )
    data_ports: str = Field(
        default="443,80",
        description="With worker_network_policy: the ports worker pods may reach public "
        "addresses on (network data sources), comma-separated.",
    )

    def data_policy_environment(self) -> list[dict[str, str]]:
        """The variables that give worker pods the data-source policy."""
        return [
            {"name": "STRATOPT_DATA_SCHEMES", "value": self.data_schemes},
            {"name": "STRATOPT_DATA_HOSTS", "value": self.data_hosts},
            {"name": "STRATOPT_DATA_PATHS", "value": self.data_paths},
        ]


class OperatorSettings(BaseSettings):
    """The operator's own behaviour."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    resync_interval: float = Field(
        default=10.0,
        gt=0,
        description="Seconds between looks at an unfinished run for what no watch event "
        "reports (pods refused by a quota, pods that fit no node, progress of a single-mode "
        "search); changes of a run and of its Jobs are handled at once (s).",
    )
    reconcile_workers: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Runs reconciled at once, each in a thread of its own (a run is never "
        "reconciled twice at once): one run's replay of a long search does not hold up "
        "another run's next batch.",
    )
    metrics_port: int = Field(
        default=8080,
        ge=0,
        le=65535,
        description="Port of the Prometheus metrics endpoint; 0 turns it off.",
    )
    peering_priority: int | None = Field(
        default=None,
        description="With --peering: this operator's priority; of several operators the "
        "highest works and the others wait. Unset, each process draws one at random, so "
        "the replicas of one Deployment differ (operators of equal priority all pause).",
    )
    peering_lifetime: int = Field(
        default=60,
        ge=5,
        description="With --peering: seconds an operator's peering entry lives unless "
        "renewed; a waiting operator takes over at most this long after the working one "
        "stops (s).",
    )
    jobs: JobSettings = Field(default_factory=JobSettings, description="Job shaping.")

    @classmethod
    def from_environment(cls) -> OperatorSettings:
        """The settings the ``STRATOPT_*`` variables give, e.g. ``STRATOPT_IMAGE`` and
        ``STRATOPT_RESYNC_INTERVAL``.

        Raises:
            InputError: a variable's value is not valid; the error names the variable.
        """
        try:
            return cls()
        except ValidationError as exc:
            error = exc.errors()[0]
            name = f"{PREFIX}{str(error['loc'][-1]).upper()}"
            raise InputError(
                name, f"{error['msg']} (it is {error['input']!r}); fix or unset it"
            ) from None
