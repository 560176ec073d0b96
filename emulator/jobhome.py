"""Where jobs live on disk: `$SMLOCAL_HOME` (default ~/.smlocal).

    $SMLOCAL_HOME/
      smlocal.db                   the job store: every job's request, state, logs, metrics (emulator.store)
      output/                      default S3OutputPath (<job>/output/model.tar.gz, output.tar.gz)
      jobs/<job>/                  owner-only (0700), like the home and jobs/ when smlocal creates them
        owner.lock                 locked while a process runs the job (see `JobDir.claim`)
        job.log                    every log line: "<UTC time> [<host>] <line>"
        stop                       present once a stop was requested
        hosts/algo-N/              that host's /opt/ml (input/config, input/data, model, output)
        checkpoints/algo-N/        that host's CheckpointConfig.LocalPath

Every name that becomes a folder here (job, host) goes through `emulator.spec.path_segment`.
"""
from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from emulator.spec import RequestValidationError, path_segment, training_job_arn

# Job folders hold the user's data (hard links to it, copies of it): nobody else may read them.
PRIVATE_DIR_MODE = 0o700


def json_default(value):
    """datetimes as ISO 8601 text; anything else as its str()."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def default_home() -> Path:
    return Path(os.environ.get("SMLOCAL_HOME") or Path.home() / ".smlocal").expanduser().absolute()


def make_private_dirs(path: Path) -> None:
    """Create `path` and its missing parents owner-only; folders that already exist keep their mode."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            pass  # created meanwhile by another process


@dataclass(frozen=True)
class JobHome:
    root: Path

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    @property
    def default_output(self) -> Path:
        return self.root / "output"

    def job(self, name: str) -> "JobDir":
        """The job's folder; RequestValidationError for a name that is not one safe folder name."""
        return JobDir(self.jobs / path_segment(name, "Training job name"))

    def create_job_dir(self, name: str, arn: str | None = None) -> "JobDir":
        """Claim the name atomically; a second job with the same name is refused like SageMaker does."""
        job_dir = self.job(name)
        make_private_dirs(self.jobs)
        try:
            job_dir.root.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            raise RequestValidationError(
                "Training job names must be unique within an AWS account and region, and a training job "
                f"with this name already exists ({arn or training_job_arn(name)})", code="ResourceInUse") from None
        return job_dir


@dataclass(frozen=True)
class JobDir:
    root: Path

    @property
    def name(self) -> str:
        return self.root.name

    def host_base(self, host: str) -> Path:
        return self.root / "hosts" / path_segment(host, "Host name")

    def checkpoint_dir(self, host: str) -> Path:
        return self.root / "checkpoints" / path_segment(host, "Host name")

    @property
    def log_file(self) -> Path:
        return self.root / "job.log"

    @property
    def stop_marker(self) -> Path:
        return self.root / "stop"

    @property
    def lock_file(self) -> Path:
        return self.root / "owner.lock"

    def append_log(self, source: str, line: str) -> datetime:
        """One line of job.log: "<UTC time> [<algo-N or smlocal>] <line>"; returns the time."""
        at = datetime.now(timezone.utc)
        with open(self.log_file, "a", encoding="utf-8") as log:
            log.write(f"{at.isoformat(timespec='milliseconds')} [{source}] {line}\n")
        return at

    def claim(self) -> "OwnerLock | None":
        """Lock the job for this process (None if another process holds it).

        The kernel drops the lock when its holder dies, however it dies (kill -9 included), so a
        job whose lock is free while the store says InProgress was abandoned.
        """
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return OwnerLock(fd)


class OwnerLock:
    """A held `JobDir.claim()` lock; `release()` (or the end of the process) frees it."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None

    def __del__(self) -> None:
        self.release()
