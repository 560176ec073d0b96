"""What each channel holds and which host gets what, resolved before the job is created.

S3Prefix lists the objects under the prefix, ManifestFile reads the manifest's object list,
AugmentedManifestFile reads the JSON lines. Objects are ordered by URI; ShardedByS3Key deals
them round-robin to the hosts (algo-1 gets objects 0, n, 2n, ...); ShuffleConfig shuffles the
list with the seed first (Pipe mode: anew every epoch, seeded with `<seed>:<epoch>`, so shards
can move between hosts across epochs, as the API documentation describes).
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from emulator.spec import Channel, RequestValidationError, TrainingJobSpec
from emulator.storage import (ObjectInfo, Storage, StorageError, check_location, contained_relative, is_s3,
                              split_s3)

GIB = 1024 ** 3


@dataclass(frozen=True)
class ChannelSource:
    channel: Channel
    # ObjectInfo for S3Prefix/ManifestFile; one parsed JSON line (dict) for AugmentedManifestFile.
    items: tuple[Any, ...]

    @property
    def is_augmented_manifest(self) -> bool:
        return self.channel.s3_data_type == "AugmentedManifestFile"

    def for_host(self, host_index: int, host_count: int, epoch: int | None = None) -> list[Any]:
        """The items host `host_index` (0-based) reads; `epoch` only matters for Pipe shuffling."""
        items = list(self.items)
        if self.channel.shuffle_seed is not None:
            seed = f"{self.channel.shuffle_seed}" if epoch is None else f"{self.channel.shuffle_seed}:{epoch}"
            random.Random(seed).shuffle(items)
        if self.channel.distribution == "ShardedByS3Key":
            return items[host_index::host_count]
        return items

    def staged_bytes(self, host_index: int, host_count: int) -> int:
        if self.channel.is_pipe:
            return 0
        return sum(info.size for info in self.for_host(host_index, host_count))


def _no_objects_message(channel: Channel, region: str, role: str) -> str:
    if is_s3(channel.s3_uri):
        bucket, _ = split_s3(channel.s3_uri)
        return (f'No S3 objects found under S3 URL "{channel.s3_uri}" given in input data source. Please ensure '
                f'that the bucket exists in the selected region ({region}), that objects exist under that S3 '
                f'prefix, and that the role "{role}" has "s3:ListBucket" permissions on bucket "{bucket}".')
    return (f'No files found at local path "{channel.s3_uri}" given in input data source of channel '
            f"'{channel.name}'.")


def _safe_relative(channel: Channel, relative: str) -> str:
    normalized = contained_relative(relative)
    if normalized is None:
        raise RequestValidationError(
            f"Object '{relative}' of channel '{channel.name}' cannot be placed inside the channel directory "
            f"(absolute path or '..').")
    return normalized


def _list_prefix(channel: Channel, storage: Storage, region: str, role: str) -> list[ObjectInfo]:
    objects = storage.list_prefix(channel.s3_uri)
    if not objects:
        raise RequestValidationError(_no_objects_message(channel, region, role))
    return sorted((ObjectInfo(o.uri, _safe_relative(channel, o.relative), o.size) for o in objects),
                  key=lambda o: o.uri)


def _read_manifest(channel: Channel, storage: Storage) -> list[ObjectInfo]:
    where = f"manifest file {channel.s3_uri} of channel '{channel.name}'"
    try:
        entries = json.loads(storage.read_bytes(channel.s3_uri))
    except json.JSONDecodeError as exc:
        raise RequestValidationError(f"The {where} is not valid JSON: {exc}") from exc
    if (not isinstance(entries, list) or not entries or not isinstance(entries[0], dict)
            or not isinstance(entries[0].get("prefix"), str)):
        raise RequestValidationError(
            f'The {where} must be a JSON array whose first element is {{"prefix": "s3://bucket/prefix/"}} '
            f"followed by object keys relative to that prefix.")
    prefix = entries[0]["prefix"]
    if is_s3(prefix) != is_s3(channel.s3_uri) and is_s3(channel.s3_uri):
        raise RequestValidationError(f"The prefix '{prefix}' in the {where} must be an s3:// URI.")
    objects = []
    for i, suffix in enumerate(entries[1:], 2):
        if not isinstance(suffix, str) or not suffix:
            raise RequestValidationError(f"Element {i} of the {where} must be a non-empty string (an object key).")
        uri = prefix + suffix  # the documented rule: each object's URI is prefix + entry
        try:
            size = storage.head(uri).size
        except StorageError as exc:
            raise RequestValidationError(f"Object '{uri}' listed in the {where} cannot be read: {exc}") from exc
        objects.append(ObjectInfo(uri, _safe_relative(channel, suffix), size))
    if not objects:
        raise RequestValidationError(f"The {where} lists no objects.")
    return sorted(objects, key=lambda o: o.uri)


def _read_augmented_manifest(channel: Channel, storage: Storage) -> list[dict]:
    where = f"augmented manifest file {channel.s3_uri} of channel '{channel.name}'"
    lines = []
    for number, line in enumerate(storage.read_bytes(channel.s3_uri).decode("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RequestValidationError(f"Line {number} of the {where} is not valid JSON: {exc}") from exc
        if not isinstance(record, dict):
            raise RequestValidationError(f"Line {number} of the {where} must be a JSON object.")
        for name in channel.attribute_names:
            if name not in record:
                raise RequestValidationError(
                    f"Attribute '{name}' (from AttributeNames) is missing on line {number} of the {where}.")
            if name.endswith("-ref") and not isinstance(record[name], str):
                raise RequestValidationError(
                    f"Attribute '{name}' on line {number} of the {where} must be an S3 URI string.")
            if name.endswith("-ref"):
                try:
                    check_location(record[name])
                except StorageError as exc:
                    raise RequestValidationError(f"Attribute '{name}' on line {number} of the {where}: {exc}") from None
        lines.append({name: record[name] for name in channel.attribute_names})
    if not lines:
        raise RequestValidationError(f"The {where} holds no JSON lines.")
    return lines


def channel_objects(channel: Channel, storage: Storage, region: str, role: str) -> list[ObjectInfo]:
    """The objects an S3Prefix or ManifestFile data source names, by URI; RequestValidationError if none."""
    if channel.s3_data_type == "ManifestFile":
        return _read_manifest(channel, storage)
    return _list_prefix(channel, storage, region, role)


def resolve_channels(spec: TrainingJobSpec, storage: Storage, region: str) -> dict[str, ChannelSource]:
    """Look at every channel's data and check it fits; raises RequestValidationError, creates nothing."""
    sources: dict[str, ChannelSource] = {}
    for channel in spec.channels:
        try:
            if channel.s3_data_type == "AugmentedManifestFile":
                items: list[Any] = _read_augmented_manifest(channel, storage)
            else:
                items = channel_objects(channel, storage, region, spec.role_arn)
        except StorageError as exc:
            raise RequestValidationError(f"Cannot read the data of channel '{channel.name}': {exc}") from exc
        sources[channel.name] = ChannelSource(channel, tuple(items))
    check_volume_size(spec, sources)
    return sources


def check_volume_size(spec: TrainingJobSpec, sources: dict[str, ChannelSource]) -> None:
    """File and FastFile data is staged on each host's ML storage volume; it has to fit."""
    limit = spec.volume_size_gb * GIB
    for index, host in enumerate(spec.hosts):
        per_channel = {name: src.staged_bytes(index, spec.instance_count) for name, src in sources.items()}
        total = sum(per_channel.values())
        if total > limit:
            detail = ", ".join(f"{name} {size / GIB:.2f} GiB" for name, size in per_channel.items() if size)
            raise RequestValidationError(
                f"The input data staged on host {host} needs {total / GIB:.2f} GiB ({detail}), more than "
                f"ResourceConfig.VolumeSizeInGB = {spec.volume_size_gb}. Increase VolumeSizeInGB, shard the "
                f"data (ShardedByS3Key) or use Pipe input mode.")
