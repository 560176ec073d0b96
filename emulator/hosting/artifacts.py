"""A model's artifacts -> the folder a server reads as /opt/ml/model.

`ModelDataUrl` names a `model.tar.gz` (s3://, file:// or a local path), which is unpacked with
the project's one safe extraction routine (container.tarsafe: nothing lands outside the
folder, links and devices are refused, bombs are bounded). `ModelDataSource` with an S3Prefix
and CompressionType None names a folder of files, copied as they are (each key kept inside the
model folder). Without either the folder is empty, as SageMaker leaves /opt/ml/model.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from container.errors import ClientError
from container.tarsafe import safe_extract
from emulator.storage import ObjectInfo, Storage, StorageError, contained_relative, is_s3, local_path

SUPPORTED_SCHEMES = ("s3://", "file://", "/")


class ModelDataError(Exception):
    """The model's artifacts cannot be read or unpacked; the message says why (a FailureReason)."""


def check_model_data_url(url: str) -> str | None:
    """Why `url` can never be read here (None when it can): SageMaker also takes https:// URLs."""
    if url.startswith(SUPPORTED_SCHEMES):
        return None
    return (f"ModelDataUrl '{url}' is not a location smlocal reads: use s3://bucket/key (an S3-compatible "
            f"server through AWS_ENDPOINT_URL_S3), file:///absolute/path or an absolute path.")


def model_data_exists(url: str, storage: Storage) -> bool:
    try:
        storage.head(url)
        return True
    except StorageError:
        return False


def model_source(container: dict) -> tuple[str, str] | None:
    """(location, "archive" or "folder") of a container definition's artifacts, None without any."""
    if container.get("ModelDataUrl"):
        return container["ModelDataUrl"], "archive"
    source = (container.get("ModelDataSource") or {}).get("S3DataSource")
    if source:
        archive = source.get("CompressionType") == "Gzip" or source.get("S3DataType") == "S3Object"
        return source["S3Uri"], "archive" if archive else "folder"
    return None


def prepare_model_dir(container: dict, target: Path, storage: Storage, scratch: Path) -> Path:
    """Fill the empty or missing folder `target` with the container's artifacts; raises ModelDataError."""
    source = model_source(container)
    if source is None:
        target.mkdir(parents=True, exist_ok=True)
        return target
    location, kind = source
    try:
        if kind == "folder":
            _copy_folder(location, target, storage)
        else:
            _unpack(location, target, storage, scratch)
    except StorageError as exc:
        raise ModelDataError(f"Could not download model data from {location}: {exc}") from None
    except ClientError as exc:
        raise ModelDataError(f"Failed to extract model data archive from URL \"{location}\". Please ensure that "
                             f"the object located at the URL is a valid tar.gz archive: {exc}") from None
    return target


def _unpack(location: str, target: Path, storage: Storage, scratch: Path) -> None:
    if not is_s3(location):
        safe_extract(local_path(location), target)
        return
    scratch.mkdir(parents=True, exist_ok=True)
    archive = scratch / "model.tar.gz"
    try:
        storage.download([(storage.head(location), archive)], lambda _n: None)
        safe_extract(archive, target)
    finally:
        archive.unlink(missing_ok=True)


def _copy_folder(location: str, target: Path, storage: Storage) -> None:
    objects = storage.list_tree(location)
    items: list[tuple[ObjectInfo, Path]] = []
    for relative, info in objects.items():
        inside = contained_relative(relative)
        if inside is None:
            raise ModelDataError(f"Model data object {info.uri} cannot be placed inside /opt/ml/model "
                                 f"(absolute path or '..').")
        items.append((info, target / inside))
    target.mkdir(parents=True, exist_ok=True)
    try:
        storage.download(items, lambda _n: None, allow_links=False)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
