"""Readers for the config JSONs SageMaker writes under /opt/ml/input/config (their shapes: container.contract)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from container.contract import ChannelConfig, CheckpointConfig, MLPaths, ResourceConfig
from container.errors import ClientError


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


def read_input_data_config(paths: MLPaths) -> dict[str, ChannelConfig]:
    raw = _read_json(paths.input_data_config, {})
    return {name: ChannelConfig.from_json(name, entry) for name, entry in raw.items()}


def read_resource_config(paths: MLPaths) -> ResourceConfig:
    return ResourceConfig.from_json(_read_json(paths.resource_config, {}))


def read_checkpoint_dir(paths: MLPaths) -> Path | None:
    """Checkpoint directory when CheckpointConfig is set (LocalPath, default /opt/ml/checkpoints)."""
    if not paths.checkpoint_config.exists():
        return None
    raw = _read_json(paths.checkpoint_config, {})
    local = CheckpointConfig.from_json(raw).local_path if isinstance(raw, dict) else None
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
