"""Resumable downloads: what an interrupted transfer left in the partial file is kept, and the
next attempt asks only for the rest (HTTP Range). Progress bars go to stderr (tqdm), on a terminal."""
from __future__ import annotations

import hashlib
import http.client
import re
import shutil
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

from tqdm import tqdm

from emulator.pretrained import PretrainedError

CHUNK = 1 << 20
TIMEOUT_SECONDS = 60
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")


class _Retry(Exception):
    """This attempt failed in a way the next one (which resumes) may not."""


def fetch(url: str, partial: Path, label: str, retries: int = 3) -> None:
    """Download `url` into `partial`, continuing a partial file left by an earlier attempt. A
    dropped connection or a server error is retried `retries` times, each retry resuming."""
    for attempt in range(retries + 1):
        try:
            _attempt(url, partial, label)
            return
        except _Retry as exc:
            if attempt == retries:
                have = partial.stat().st_size if partial.exists() else 0
                raise PretrainedError(f"Download of {url} failed ({exc.__cause__ or exc}); {have} bytes are kept "
                                      f"in {partial}: run the command again to resume") from None


def _attempt(url: str, partial: Path, label: str) -> None:
    offset = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return  # nothing after `offset`: the partial file is whole (the checksum will tell)
        if exc.code >= 500:
            raise _Retry(f"HTTP {exc.code}") from exc
        raise PretrainedError(f"{url} answered HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise _Retry("no connection") from exc
    with response:
        start, total = _position(response, offset)
        partial.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "ab" if start else "wb") as out, \
                tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                     disable=None, leave=False) as bar:
            try:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
            except (http.client.HTTPException, OSError) as exc:
                raise _Retry("connection lost") from exc
    if total is not None and partial.stat().st_size < total:
        raise _Retry(f"connection closed after {partial.stat().st_size} of {total} bytes")


def _position(response, offset: int) -> tuple[int, int | None]:
    """Where this response's body starts in the file, and the file's size if the server says."""
    if response.status == 206:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
        if match and int(match.group(1)) == offset:
            return offset, None if match.group(2) == "*" else int(match.group(2))
        raise PretrainedError(f"{response.url} answered a range request with the wrong range "
                              f"({response.headers.get('Content-Range')}, asked from byte {offset})")
    length = response.headers.get("Content-Length")
    return 0, int(length) if length else None  # the server ignored Range: start over


def sha1_of(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as stream:
        while block := stream.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def extract_member(archive: Path, member: str, target: Path, origin: str) -> None:
    """Copy one member of a zip archive to `target` (by its exact name: nothing else is written)."""
    try:
        with zipfile.ZipFile(archive) as zipped, zipped.open(member) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
    except KeyError:
        raise PretrainedError(f"{origin} does not hold {member}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise PretrainedError(f"{origin} is not a complete zip archive ({exc})") from None
