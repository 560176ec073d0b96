"""The host's model store: `<store>/<algorithm>/<file>` exactly as the algorithms read it
(algorithms/common/model_store.py), each file with a record of where it came from beside it
(`<file>.source.json`). Downloads and checks work in `<store>/.partial/`, on the same file system,
so a finished file appears by a rename: a job never sees half a file."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from emulator.pretrained import PretrainedError
from emulator.pretrained.table import Needed

STORE_ENV = "SMLOCAL_MODEL_STORE"
DEFAULT_STORE = "~/.smlocal/models"  # the algorithms' default for local processes too
PARTIAL = ".partial"
RECORD_SUFFIX = ".source.json"


def default_store(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get(STORE_ENV) or DEFAULT_STORE).expanduser()


class Store:
    def __init__(self, root: Path):
        self.root = Path(root).absolute()

    def path(self, needed: Needed) -> Path:
        return self.root / needed.file

    def record(self, needed: Needed) -> dict | None:
        try:
            return json.loads(self._record_path(needed).read_text())
        except (OSError, ValueError):
            return None

    def partial(self, name: str) -> Path:
        """Where an unfinished download of `name` waits (kept between runs, for resuming)."""
        return self._work_dir() / name

    @contextlib.contextmanager
    def locked(self, name: str):
        """One `pull`/`import` at a time per name (two would write the same partial file)."""
        with open(self._work_dir() / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    @contextlib.contextmanager
    def scratch(self):
        """A fresh directory for one check's outputs, removed afterwards."""
        work = Path(tempfile.mkdtemp(prefix="check-", dir=self._work_dir()))
        try:
            yield work
        finally:
            for child in work.iterdir():
                child.unlink()
            work.rmdir()

    def install(self, finished: Path, needed: Needed, record: dict) -> Path:
        """Move a verified file into place (atomically) and write its record."""
        target = self.path(needed)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(finished, target)
        stamped = dict(record, name=needed.name, stored=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        temporary = target.with_name(target.name + RECORD_SUFFIX + ".tmp")
        temporary.write_text(json.dumps(stamped, indent=1) + "\n")
        os.replace(temporary, self._record_path(needed))
        return target

    def _record_path(self, needed: Needed) -> Path:
        path = self.path(needed)
        return path.with_name(path.name + RECORD_SUFFIX)

    def _work_dir(self) -> Path:
        work = self.root / PARTIAL
        try:
            work.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PretrainedError(f"Cannot write to the model store {self.root}: {exc.strerror}") from None
        return work
