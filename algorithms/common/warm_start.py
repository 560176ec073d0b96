"""Incremental training: find the `model` channel's artifacts and check they fit the new job."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from algorithms.common.tarsafe import safe_extract
from container.config import TrainingEnv
from container.errors import ClientError
from container.logs import get_logger

MODEL_CHANNEL = "model"
MODEL_CONTENT_TYPE = "application/x-sagemaker-model"


def model_channel_dir(env: TrainingEnv) -> Path | None:
    """The directory holding the earlier job's extracted artifacts, or None without a model channel.

    The channel may hold `model.tar.gz` (as SageMaker passes it) or the extracted files."""
    if MODEL_CHANNEL not in env.channels:
        return None
    content_type = env.channels[MODEL_CHANNEL].base_content_type
    if content_type not in (None, MODEL_CONTENT_TYPE):
        raise ClientError(
            f"Channel 'model' has ContentType '{content_type}'; incremental training needs "
            f"'{MODEL_CONTENT_TYPE}'")
    channel = env.paths.channel(MODEL_CHANNEL)
    if not channel.is_dir():
        raise ClientError("Channel 'model' is configured but its directory is missing")
    archives = sorted(p for p in channel.rglob("*") if p.is_file() and p.name.endswith((".tar.gz", ".tgz", ".tar")))
    if len(archives) > 1:
        raise ClientError(f"Channel 'model' must hold one model archive, found {[a.name for a in archives]}")
    if archives:
        target = env.paths.work / "model-channel"
        get_logger().info("Extracting %s for incremental training", archives[0].name)
        return safe_extract(archives[0], target)
    if not any(channel.iterdir()):
        raise ClientError("Channel 'model' is empty; it must hold the model.tar.gz of an earlier training job")
    return channel


def check_matching(required: dict[str, Any], trained_with: dict[str, Any], source: str) -> None:
    """Every key in `required` (this job's values) must equal the earlier model's value."""
    for key, value in required.items():
        if key not in trained_with or trained_with[key] is None:
            continue
        if _normalise(trained_with[key]) != _normalise(value):
            raise ClientError(
                f"Incompatible model in {source}: hyperparameter '{key}' is {_show(value)} in this job "
                f"but the model was trained with {_show(trained_with[key])}; '{key}' must match the "
                f"original model for incremental training")


def _normalise(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_normalise(v) for v in value)
    if isinstance(value, str):
        return value.strip().lower()
    return value


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "'" + ",".join(str(v) for v in value) + "'"
    return f"'{value}'"
