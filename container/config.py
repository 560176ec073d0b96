"""Readers for the config JSONs SageMaker writes under /opt/ml/input/config."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from container.errors import ClientError
from container.paths import MLPaths


def _read_json(path: Path, default):
    if not path.exists():
        return default
    try:
        return json.loads(path.read_text() or "null") or default
    except json.JSONDecodeError as exc:
        raise ClientError(f"{path.name} is not valid JSON: {exc}") from exc


def decode_hyperparameter(value) -> str:
    """Hyperparameters are strings; SDK v2 JSON-encodes them ("\\"sgd\\"" for sgd).

    A value that decodes to a JSON string is unwrapped; anything else keeps its raw text,
    so "1e-8" stays "1e-8" rather than becoming a float repr.
    """
    if not isinstance(value, str):
        return json.dumps(value) if not isinstance(value, (int, float)) else str(value)
    try:
        decoded = json.loads(value)
    except (json.JSONDecodeError, ValueError):
        return value
    return decoded if isinstance(decoded, str) else value


def read_hyperparameters(paths: MLPaths) -> dict[str, str]:
    raw = _read_json(paths.hyperparameters, {})
    if not isinstance(raw, dict):
        raise ClientError("hyperparameters.json must hold a JSON object of string values")
    return {str(k): decode_hyperparameter(v) for k, v in raw.items()}


@dataclass(frozen=True)
class ChannelConfig:
    name: str
    content_type: str | None = None
    input_mode: str = "File"
    distribution: str = "FullyReplicated"
    record_wrapper: str = "None"
    compression: str = "None"
    extra: dict = field(default_factory=dict)

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


def read_input_data_config(paths: MLPaths) -> dict[str, ChannelConfig]:
    raw = _read_json(paths.input_data_config, {})
    channels = {}
    for name, spec in raw.items():
        spec = spec or {}
        channels[name] = ChannelConfig(
            name=name,
            content_type=spec.get("ContentType"),
            input_mode=spec.get("TrainingInputMode", "File"),
            distribution=spec.get("S3DistributionType", "FullyReplicated"),
            record_wrapper=spec.get("RecordWrapperType", "None"),
            compression=spec.get("CompressionType", "None"),
            extra={k: v for k, v in spec.items()},
        )
    return channels


@dataclass(frozen=True)
class ResourceConfig:
    current_host: str = "algo-1"
    hosts: tuple[str, ...] = ("algo-1",)
    network_interface_name: str = "eth0"
    current_instance_type: str = "local"

    @property
    def host_rank(self) -> int:
        return self.hosts.index(self.current_host)

    @property
    def is_distributed(self) -> bool:
        return len(self.hosts) > 1


def read_resource_config(paths: MLPaths) -> ResourceConfig:
    raw = _read_json(paths.resource_config, {})
    if not raw:
        return ResourceConfig()
    return ResourceConfig(
        current_host=raw.get("current_host", "algo-1"),
        hosts=tuple(sorted(raw.get("hosts", [raw.get("current_host", "algo-1")]))),
        network_interface_name=raw.get("network_interface_name", "eth0"),
        current_instance_type=raw.get("current_instance_type", "local"),
    )


def read_checkpoint_dir(paths: MLPaths) -> Path | None:
    """Checkpoint directory when CheckpointConfig is set (LocalPath, default /opt/ml/checkpoints)."""
    if not paths.checkpoint_config.exists():
        return None
    raw = _read_json(paths.checkpoint_config, {})
    local = raw.get("LocalPath") if isinstance(raw, dict) else None
    return Path(local) if local else paths.default_checkpoints


@dataclass(frozen=True)
class TrainingEnv:
    """Everything an algorithm learns from the platform, read once at start."""

    paths: MLPaths
    hyperparameters: dict[str, str]
    channels: dict[str, ChannelConfig]
    resources: ResourceConfig
    checkpoint_dir: Path | None

    @classmethod
    def read(cls, paths: MLPaths) -> "TrainingEnv":
        return cls(
            paths=paths,
            hyperparameters=read_hyperparameters(paths),
            channels=read_input_data_config(paths),
            resources=read_resource_config(paths),
            checkpoint_dir=read_checkpoint_dir(paths),
        )
