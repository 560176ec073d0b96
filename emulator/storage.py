"""Where job data lives: `s3://` (boto3), `file://` URIs and plain local paths, behind one facade.

S3 uses boto3's standard settings (credentials chain, AWS_PROFILE, AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_S3), so a local S3-compatible server works by setting the endpoint variable.
Transfers go through s3transfer's TransferManager: several objects at once and multipart for
big ones. Every write is atomic for readers: local files are written to a temporary name in the
same directory and renamed; S3 objects only appear when the PUT or the multipart upload
completes.
"""
from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable
from urllib.parse import unquote, urlparse

ProgressCallback = Callable[[int], None]  # bytes transferred since the last call


class StorageError(Exception):
    """A location that cannot be read or written; the message names it."""


@dataclass(frozen=True)
class ObjectInfo:
    uri: str         # where to read it
    relative: str    # where it lands inside the channel / checkpoint directory ("a/b.jpg")
    size: int


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise StorageError(f"'{uri}' is not an S3 URI (s3://bucket/key)")
    return parsed.netloc, parsed.path.lstrip("/")


def local_path(uri: str) -> Path:
    """A plain path or file:// URI as an absolute local path."""
    if uri.startswith("file://"):
        parsed = urlparse(uri)
        return Path(unquote(parsed.netloc + parsed.path)).expanduser().absolute()
    if "://" in uri:
        raise StorageError(f"Unsupported location '{uri}': use s3://, file:// or a local path")
    return Path(uri).expanduser().absolute()


def check_location(uri: str) -> None:
    """StorageError for what no store reaches: other schemes (ftp://, https://), s3:// without a bucket."""
    if is_s3(uri):
        split_s3(uri)
    else:
        local_path(uri)


def normalize_location(uri: str) -> str:
    """A plain (maybe relative) path becomes absolute; URIs stay as they are (validation judges them)."""
    if "://" in uri:
        return uri
    return str(local_path(uri))


def join(base: str, *parts: str) -> str:
    if is_s3(base) or base.startswith("file://"):
        return "/".join([base.rstrip("/")] + [p.strip("/") for p in parts])
    return str(Path(base).joinpath(*parts))


def s3_relative_path(prefix: str, key: str) -> str:
    """Where an object found under an S3Prefix lands inside the channel directory.

    `s3://b/train/` and `s3://b/train` both put `train/x/a.jpg` at `x/a.jpg`; a prefix naming
    one object (`.../model.tar.gz`) gives its base name; a sibling that merely shares the text
    prefix (`train-01/b.jpg` under `s3://b/train`) keeps its path from the prefix's folder on.
    """
    rest = key[len(prefix):]
    if not rest:
        return key.rsplit("/", 1)[-1]
    if prefix.endswith("/") or rest.startswith("/"):
        return rest.lstrip("/")
    return key[len(prefix.rsplit("/", 1)[0]) + 1:] if "/" in prefix else key


def contained_relative(relative: str) -> str | None:
    """`relative` (an object's path below a prefix) normalised, or None when it would leave the
    folder it is placed in (absolute, '..', or nothing left)."""
    normalized = posixpath.normpath(relative)
    if relative.startswith("/") or normalized in (".", "..") or normalized.startswith("../"):
        return None
    return normalized


def _atomic_copy(src: Path, dest: Path, link: bool) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if link:
        try:
            if dest.exists():
                dest.unlink()
            os.link(src, dest)
            return
        except OSError:
            pass  # other file system or no permission: copy instead
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        shutil.copymode(src, tmp)  # mkstemp made it 0600
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LocalStore:
    def list_prefix(self, uri: str) -> list[ObjectInfo]:
        root = local_path(uri)
        if root.is_file():
            return [ObjectInfo(str(root), root.name, root.stat().st_size)]
        if not root.is_dir():
            return []
        found = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if path.is_file():
                    found.append(ObjectInfo(str(path), path.relative_to(root).as_posix(), path.stat().st_size))
        return found

    def head(self, uri: str) -> ObjectInfo:
        path = local_path(uri)
        if not path.is_file():
            raise StorageError(f"No such file: {path}")
        return ObjectInfo(str(path), path.name, path.stat().st_size)

    def open(self, uri: str) -> BinaryIO:
        try:
            return open(local_path(uri), "rb")
        except OSError as exc:
            raise StorageError(f"Cannot read {uri}: {exc.strerror}") from exc

    def download(self, items: Iterable[tuple[ObjectInfo, Path]], progress: ProgressCallback,
                 allow_links: bool = True) -> None:
        for info, dest in items:
            _atomic_copy(local_path(info.uri), dest, link=allow_links)  # a manifest may list file:// URIs
            progress(info.size)

    def upload(self, src: Path, uri: str, progress: ProgressCallback | None = None) -> None:
        _atomic_copy(src, local_path(uri), link=False)
        if progress:
            progress(src.stat().st_size)

    def delete(self, uri: str) -> None:
        local_path(uri).unlink(missing_ok=True)


class S3Store:
    """boto3-backed; the client is created on first use so local-only jobs never need AWS settings."""

    def __init__(self, client=None, max_concurrency: int = 8) -> None:
        self._client = client
        self._max_concurrency = max_concurrency
        self._lock = threading.Lock()

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.session.Session().client(
                    "s3", config=Config(retries={"max_attempts": 5, "mode": "standard"},
                                        max_pool_connections=self._max_concurrency * 2))
            return self._client

    def _transfer_manager(self):
        from boto3.s3.transfer import TransferConfig, create_transfer_manager

        config = TransferConfig(max_concurrency=self._max_concurrency, multipart_threshold=16 * 1024 * 1024,
                                multipart_chunksize=16 * 1024 * 1024)
        return create_transfer_manager(self.client, config)

    def _call(self, what: str, uri: str, fn, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise StorageError(f"{what} {uri} failed: {err.get('Code')}: {err.get('Message')}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"{what} {uri} failed: {exc}") from exc

    def list_prefix(self, uri: str) -> list[ObjectInfo]:
        bucket, prefix = split_s3(uri)
        found = []
        paginator = self.client.get_paginator("list_objects_v2")

        def pages():
            return list(paginator.paginate(Bucket=bucket, Prefix=prefix))

        for page in self._call("Listing", uri, pages):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                if key.endswith("/"):
                    continue  # "folder" placeholder objects
                found.append(ObjectInfo(f"s3://{bucket}/{key}", s3_relative_path(prefix, key), obj["Size"]))
        return found

    def head(self, uri: str) -> ObjectInfo:
        bucket, key = split_s3(uri)
        meta = self._call("Reading", uri, self.client.head_object, Bucket=bucket, Key=key)
        return ObjectInfo(uri, key.rsplit("/", 1)[-1], meta["ContentLength"])

    def open(self, uri: str) -> BinaryIO:
        bucket, key = split_s3(uri)
        return self._call("Reading", uri, self.client.get_object, Bucket=bucket, Key=key)["Body"]

    def download(self, items: Iterable[tuple[ObjectInfo, Path]], progress: ProgressCallback,
                 allow_links: bool = True) -> None:  # noqa: ARG002 - links make no sense for S3
        from s3transfer.subscribers import BaseSubscriber

        class Progress(BaseSubscriber):
            def on_progress(self, future, bytes_transferred, **kwargs):  # noqa: ARG002
                progress(bytes_transferred)

        futures = []
        with self._transfer_manager() as manager:
            for info, dest in items:
                dest.parent.mkdir(parents=True, exist_ok=True)
                bucket, key = split_s3(info.uri)
                # s3transfer writes to a temporary name and renames when complete.
                futures.append((info.uri, manager.download(bucket, key, str(dest), subscribers=[Progress()])))
            for uri, future in futures:
                self._call("Downloading", uri, future.result)

    def upload(self, src: Path, uri: str, progress: ProgressCallback | None = None) -> None:
        from s3transfer.subscribers import BaseSubscriber

        class Progress(BaseSubscriber):
            def on_progress(self, future, bytes_transferred, **kwargs):  # noqa: ARG002
                if progress:
                    progress(bytes_transferred)

        bucket, key = split_s3(uri)
        with self._transfer_manager() as manager:
            future = manager.upload(str(src), bucket, key, subscribers=[Progress()])
            self._call("Uploading to", uri, future.result)

    def delete(self, uri: str) -> None:
        bucket, key = split_s3(uri)
        self._call("Deleting", uri, self.client.delete_object, Bucket=bucket, Key=key)

    def check_bucket(self, uri: str) -> None:
        bucket, _ = split_s3(uri)
        self._call("Checking the bucket of", uri, self.client.head_bucket, Bucket=bucket)


class Storage:
    """Dispatches each operation to the S3 or local store by the URI's scheme."""

    def __init__(self, s3: S3Store | None = None) -> None:
        self.s3 = s3 or S3Store()
        self.local = LocalStore()

    def store(self, uri: str):
        return self.s3 if is_s3(uri) else self.local

    def list_prefix(self, uri: str) -> list[ObjectInfo]:
        return self.store(uri).list_prefix(uri)

    def list_tree(self, uri: str) -> dict[str, ObjectInfo]:
        """Every object below a folder-like location, by path relative to it."""
        folder = uri if uri.endswith("/") or not is_s3(uri) else uri + "/"
        return {info.relative: info for info in self.list_prefix(folder)}

    def head(self, uri: str) -> ObjectInfo:
        return self.store(uri).head(uri)

    def open(self, uri: str) -> BinaryIO:
        return self.store(uri).open(uri)

    def read_bytes(self, uri: str) -> bytes:
        with self.open(uri) as stream:
            return stream.read()

    def download(self, items: list[tuple[ObjectInfo, Path]], progress: ProgressCallback,
                 allow_links: bool = True) -> None:
        by_store: dict[int, list] = {}
        for item in items:
            by_store.setdefault(id(self.store(item[0].uri)), []).append(item)
        for group in by_store.values():
            self.store(group[0][0].uri).download(group, progress, allow_links)

    def upload(self, src: Path, uri: str, progress: ProgressCallback | None = None) -> None:
        self.store(uri).upload(src, uri, progress)

    def delete(self, uri: str) -> None:
        self.store(uri).delete(uri)

    def check_destination(self, uri: str) -> None:
        """Fail early for a location that can never be written (bad scheme, missing bucket, a local
        folder this user cannot create or write into), before any data is staged or trained on."""
        if is_s3(uri):
            self.s3.check_bucket(uri)
        else:
            check_writable_folder(local_path(uri))


def check_writable_folder(path: Path) -> None:
    """StorageError unless `path` is, or can be created as, a folder this user can write into."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise StorageError(f"{existing} is not a folder, so {path} cannot be created")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise StorageError(f"{existing} is not writable by this user, so nothing can be written to {path}")
