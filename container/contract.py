"""The /opt/ml contract: the files SageMaker (here: the emulator) writes and the image reads.

The emulator writes every host's tree with these names and shapes; `container.config` reads
them back. Standard library only, so the emulator imports it without MXNet or the algorithms.

    /opt/ml                                   SAGEMAKER_BASE_DIR (the process runner points it at
      input/config/hyperparameters.json       the host's tree on disk)
                   inputdataconfig.json       {channel: ChannelConfig.to_json()}
                   resourceconfig.json        ResourceConfig.to_json()
                   checkpointconfig.json      CheckpointConfig.to_json(), when CheckpointConfig is set
                   trainingjobconfig.json     the CreateTrainingJob request, in part (TRAINING_JOB_MEMBERS)
      input/data/<channel>/                   File and FastFile channels
      input/data/<channel>_<epoch>            Pipe channels: one FIFO per epoch
      model/                                  packed into model.tar.gz
      output/data/                            packed into output.tar.gz
      output/failure                          the FailureReason (its first FAILURE_REASON_LIMIT characters)
      checkpoints/                            CheckpointConfig.LocalPath by default
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE_DIR = "/opt/ml"
BASE_DIR_ENV = "SAGEMAKER_BASE_DIR"
DEFAULT_CHECKPOINT_DIR = f"{DEFAULT_BASE_DIR}/checkpoints"
MODEL_CHANNEL = "model"                              # incremental training: an earlier job's model.tar.gz
MODEL_CONTENT_TYPE = "application/x-sagemaker-model"
FAILURE_REASON_LIMIT = 1024                          # what DescribeTrainingJob shows of output/failure
NETWORK_INTERFACE = "eth0"                           # what current real jobs report
GROUP_NAME = "homogeneousCluster"                    # the group name of every non-heterogeneous job
# trainingjobconfig.json: SageMaker writes a file of this name; what it holds is not documented
# (UNCONFIRMED). The emulator writes these members of the CreateTrainingJob request, defaults
# filled in and TrainingJobArn added (docs/emulator.md); the image reads only
# ResourceConfig.VolumeSizeInGB. Data locations and Environment stay out: the container has
# its channels and its environment already.
TRAINING_JOB_MEMBERS = ("TrainingJobName", "TrainingJobArn", "AlgorithmSpecification", "HyperParameters",
                        "ResourceConfig", "StoppingCondition")


def pipe_name(channel: str, epoch: int) -> str:
    """The FIFO of a Pipe-mode channel's epoch, inside input/data: `<channel>_<epoch>`."""
    return f"{channel}_{int(epoch)}"


@dataclass(frozen=True)
class MLPaths:
    """Every /opt/ml path, rooted at one base directory."""

    base: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "MLPaths":
        env = os.environ if environ is None else environ
        return cls(Path(env.get(BASE_DIR_ENV, DEFAULT_BASE_DIR)))

    @property
    def input_config(self) -> Path:
        return self.base / "input" / "config"

    @property
    def hyperparameters(self) -> Path:
        return self.input_config / "hyperparameters.json"

    @property
    def input_data_config(self) -> Path:
        return self.input_config / "inputdataconfig.json"

    @property
    def resource_config(self) -> Path:
        return self.input_config / "resourceconfig.json"

    @property
    def checkpoint_config(self) -> Path:
        return self.input_config / "checkpointconfig.json"

    @property
    def training_job_config(self) -> Path:
        return self.input_config / "trainingjobconfig.json"

    @property
    def data(self) -> Path:
        return self.base / "input" / "data"

    def channel(self, name: str) -> Path:
        return self.data / name

    def pipe(self, channel: str, epoch: int) -> Path:
        return self.data / pipe_name(channel, epoch)

    @property
    def model(self) -> Path:
        return self.base / "model"

    @property
    def output(self) -> Path:
        return self.base / "output"

    @property
    def output_data(self) -> Path:
        return self.output / "data"

    @property
    def failure(self) -> Path:
        return self.output / "failure"

    @property
    def success(self) -> Path:
        return self.output / "success"

    @property
    def default_checkpoints(self) -> Path:
        return self.base / "checkpoints"

    @property
    def work(self) -> Path:
        """Scratch space for derived data (packed RecordIO, extracted models); never uploaded."""
        return self.base / "input" / "work"


@dataclass(frozen=True)
class ChannelConfig:
    """One channel of inputdataconfig.json."""

    name: str
    content_type: str | None = None
    input_mode: str = "File"
    distribution: str = "FullyReplicated"
    record_wrapper: str = "None"
    compression: str = "None"

    def to_json(self) -> dict[str, str]:
        entry = {} if self.content_type is None else {"ContentType": self.content_type}
        return {**entry, "TrainingInputMode": self.input_mode, "S3DistributionType": self.distribution,
                "RecordWrapperType": self.record_wrapper, "CompressionType": self.compression}

    @classmethod
    def from_json(cls, name: str, entry: dict | None) -> "ChannelConfig":
        entry = entry or {}
        return cls(name, entry.get("ContentType"), entry.get("TrainingInputMode", "File"),
                   entry.get("S3DistributionType", "FullyReplicated"), entry.get("RecordWrapperType", "None"),
                   entry.get("CompressionType", "None"))

    @property
    def is_pipe(self) -> bool:
        return self.input_mode == "Pipe"

    @property
    def base_content_type(self) -> str | None:
        """`application/x-recordio; label-format=class-id` -> `application/x-recordio`."""
        return self.content_type.split(";")[0].strip().lower() if self.content_type else None

    def content_type_param(self, key: str) -> str | None:
        if not self.content_type:
            return None
        for part in self.content_type.split(";")[1:]:
            k, _, v = part.partition("=")
            if k.strip().lower() == key:
                return v.strip()
        return None


@dataclass(frozen=True)
class ResourceConfig:
    """resourceconfig.json: this host, all hosts (sorted), the instance type."""

    current_host: str = "algo-1"
    hosts: tuple[str, ...] = ("algo-1",)
    network_interface_name: str = NETWORK_INTERFACE
    current_instance_type: str = "local"

    def to_json(self) -> dict:
        hosts = sorted(self.hosts)
        return {"current_host": self.current_host, "current_instance_type": self.current_instance_type,
                "current_group_name": GROUP_NAME, "hosts": hosts,
                "instance_groups": [{"instance_group_name": GROUP_NAME, "instance_type": self.current_instance_type,
                                     "hosts": hosts}],
                "network_interface_name": self.network_interface_name}

    @classmethod
    def from_json(cls, data: dict | None) -> "ResourceConfig":
        if not data:
            return cls()
        current = data.get("current_host", "algo-1")
        return cls(current, tuple(sorted(data.get("hosts", [current]))),
                   data.get("network_interface_name", NETWORK_INTERFACE), data.get("current_instance_type", "local"))

    @property
    def host_rank(self) -> int:
        return self.hosts.index(self.current_host)

    @property
    def is_distributed(self) -> bool:
        return len(self.hosts) > 1


@dataclass(frozen=True)
class CheckpointConfig:
    """checkpointconfig.json: where the algorithm keeps checkpoints, and where they are synced to."""

    local_path: str | None
    s3_uri: str

    def to_json(self) -> dict:
        return {"LocalPath": self.local_path, "S3Uri": self.s3_uri}

    @classmethod
    def from_json(cls, data: dict) -> "CheckpointConfig":
        return cls(data.get("LocalPath"), data.get("S3Uri", ""))


def training_job_config(request: dict) -> dict:
    """trainingjobconfig.json from the job's CreateTrainingJob request (see TRAINING_JOB_MEMBERS)."""
    return {k: request[k] for k in TRAINING_JOB_MEMBERS if k in request}
