"""`smlocal pretrained pull | import | list` as functions (the CLI is a thin layer over them)."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from emulator.pretrained import PretrainedError
from emulator.pretrained.check import run_check
from emulator.pretrained.download import extract_member, fetch, sha1_of
from emulator.pretrained.sources import Source, source
from emulator.pretrained.store import Store
from emulator.pretrained.table import Needed

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Zoo:
    """Where `pull` downloads from: the public zoos, or a mirror (`url`) with its own checksums."""
    url: str | None = None
    checksums: dict[str, str] | None = None
    retries: int = 3

    def source(self, name: str) -> Source:
        return source(name, self.url, self.checksums)


def pull(wanted: list[Needed], store: Store, zoo: Zoo, image: str | None, echo: Echo) -> list[str]:
    """Download each missing file, verify it, store it. Returns the errors (one per failed name);
    a failure does not stop the others."""
    errors = []
    for needed in wanted:
        target = store.path(needed)
        if target.is_file():
            echo(f"{needed.name}: already in the store ({target})")
            continue
        try:
            with store.locked(needed.name):
                _pull_one(needed, store, zoo.source(needed.name), zoo.retries, image, echo)
        except PretrainedError as exc:
            errors.append(f"{needed.name}: {exc}")
            echo(f"{needed.name}: FAILED: {exc}")
    return errors


def _pull_one(needed: Needed, store: Store, src: Source, retries: int, image: str | None, echo: Echo) -> None:
    if store.path(needed).is_file():  # another pull finished it while this one waited for the lock
        return
    download = store.partial(needed.name + (".zip" if src.member else Path(src.url).suffix) + ".part")
    echo(f"{needed.name}: downloading {src.url}")
    fetch(src.url, download, needed.name, retries)
    finished = download
    if src.member:
        finished = store.partial(needed.name + ".params.tmp")
        try:
            extract_member(download, src.member, finished, f"{src.url} (downloaded to {download})")
        except PretrainedError:
            download.unlink()  # a broken archive must not be resumed: the next run starts afresh
            raise
    sha1 = sha1_of(finished)
    if src.sha1 is not None:
        verified = "published sha1"
        if sha1 != src.sha1:
            for path in {download, finished}:
                path.unlink()
            raise PretrainedError(f"{src.url} gave a file with sha1 {sha1}, but the published sha1 of "
                                  f"{needed.name} is {src.sha1}; the download was removed, run the command again")
    else:
        verified = "parameter names and shapes (the zoo publishes no checksum)"
        with store.scratch() as work:
            verdict = run_check([finished], needed.name, work, image)
        if not verdict["ok"]:
            finished.unlink()
            raise PretrainedError(f"{src.url} is not the expected file: {verdict['error']}")
    target = store.install(finished, needed, {"origin": src.url, "sha1": sha1, "verified": verified})
    if download.exists():
        download.unlink()
    echo(f"{needed.name}: stored {target} (verified: {verified})")


def import_files(files: list[Path], store: Store, table: dict[str, Needed], name: str | None,
                 image: str | None, echo: Echo) -> Needed:
    """Check the user's files against the networks, convert where needed, store them."""
    with store.scratch() as work:
        verdict = run_check(files, name, work, image)
        if not verdict["ok"]:
            raise PretrainedError(verdict["error"])
        needed = table[verdict["name"]]
        params = next(f for f in files if f.name == Path(verdict["source"]).name)  # as the check saw it
        with store.locked(needed.name):
            finished = store.partial(needed.name + ".import.tmp")
            if verdict["weights"]:
                shutil.move(work / verdict["weights"], finished)
            else:
                shutil.copyfile(params, finished)  # unchanged, byte for byte
            sha1 = sha1_of(finished)
            replaced = store.path(needed).is_file()
            target = store.install(finished, needed, {
                "origin": str(params.resolve()), "sha1": sha1, "converted": verdict["converted"],
                "verified": "parameter names and shapes" + _published_note(needed.name, sha1)})
    notes = "; ".join(verdict["converted"])
    echo(f"{needed.name}: {'replaced' if replaced else 'stored'} {target} (for {needed.used_by}"
         f"{'; ' + notes if notes else ''})")
    return needed


def _published_note(name: str, sha1: str) -> str:
    try:
        published = source(name).sha1
    except PretrainedError:
        return ""
    return "; the zoo's published file" if sha1 == published else ""


def listing(store: Store, table: dict[str, Needed]) -> list[dict]:
    """One row per weights file the algorithms read: whether it is there, and which settings use it."""
    rows = []
    for needed in table.values():
        path = store.path(needed)
        record = store.record(needed) or {}
        rows.append({"name": needed.name, "present": path.is_file(), "used_by": needed.used_by,
                     "bytes": path.stat().st_size if path.is_file() else None, "path": path,
                     "origin": record.get("origin"), "verified": record.get("verified")})
    return rows
