"""Incremental training: find the `model` channel's artifacts and check they fit the new job."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from container.config import TrainingEnv
from container.contract import MODEL_CHANNEL, MODEL_CONTENT_TYPE
from container.errors import ClientError
from container.logs import get_logger
from container.tarsafe import GIB, Budget, archive_limits, human_size, safe_extract



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
        return safe_extract(archives[0], target, archive_limits(archives[0], target, volume_budget(env)))
    if not any(channel.iterdir()):
        raise ClientError("Channel 'model' is empty; it must hold the model.tar.gz of an earlier training job")
    return channel


def volume_budget(env: TrainingEnv) -> tuple[Budget, ...]:
    """What the job's volume (ResourceConfig.VolumeSizeInGB) leaves after the staged input data,
    when trainingjobconfig.json says; otherwise nothing (free space and expansion still bound it)."""
    path = env.paths.training_job_config
    try:
        volume_gb = json.loads(path.read_text())["ResourceConfig"]["VolumeSizeInGB"]
    except (OSError, ValueError, KeyError, TypeError):
        return ()
    if not isinstance(volume_gb, int) or isinstance(volume_gb, bool) or volume_gb < 1:
        return ()
    used = _regular_file_bytes(env.paths.data)
    return (Budget(volume_gb * GIB - used,
                   f"ResourceConfig.VolumeSizeInGB = {volume_gb} less the {human_size(used)} of input data "
                   f"already on the volume; a larger VolumeSizeInGB raises it"),)


def _regular_file_bytes(folder: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):  # not Pipe FIFOs nor links
                total += st.st_size
    return total


def read_symbol_nodes(path: Path, source: str) -> list[dict]:
    """The nodes of a saved MXNet graph (`*-symbol.json`), each with a string 'op' and 'name'."""
    expected = "expected an MXNet symbol file: a JSON object whose 'nodes' list holds objects with 'op' and 'name'"
    try:
        nodes = json.loads(path.read_bytes().decode("utf-8"))["nodes"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ClientError(f"{path.name} in {source} is malformed; {expected}") from None
    if not isinstance(nodes, list) or not nodes or not all(
            isinstance(n, dict) and isinstance(n.get("op"), str) and isinstance(n.get("name"), str) for n in nodes):
        raise ClientError(f"{path.name} in {source} is malformed; {expected}")
    return nodes


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
