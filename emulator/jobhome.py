"""Where jobs live on disk: `$SMLOCAL_HOME` (default ~/.smlocal).

    $SMLOCAL_HOME/
      output/                      default S3OutputPath (<job>/output/model.tar.gz, output.tar.gz)
      jobs/<job>/
        request.json               the CreateTrainingJob request, defaults filled in
        job.json                   the job's state (status, transitions, metrics, artifacts)
        job.log                    every log line: "<UTC time> [<host>] <line>"
        stop                       present once a stop was requested
        hosts/algo-N/              that host's /opt/ml (input/config, input/data, model, output)
        checkpoints/algo-N/        that host's CheckpointConfig.LocalPath
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from emulator.spec import RequestValidationError, training_job_arn


def json_default(value):
    """datetimes as ISO 8601 text; anything else as its str()."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def default_home() -> Path:
    return Path(os.environ.get("SMLOCAL_HOME") or Path.home() / ".smlocal").expanduser().absolute()


@dataclass(frozen=True)
class JobHome:
    root: Path

    @classmethod
    def from_env(cls) -> "JobHome":
        return cls(default_home())

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    @property
    def default_output(self) -> Path:
        return self.root / "output"

    def job(self, name: str) -> "JobDir":
        return JobDir(self.jobs / name)

    def create_job_dir(self, name: str, arn: str | None = None) -> "JobDir":
        """Claim the name atomically; a second job with the same name is refused like SageMaker does."""
        self.jobs.mkdir(parents=True, exist_ok=True)
        try:
            (self.jobs / name).mkdir()
        except FileExistsError:
            raise RequestValidationError(
                "Training job names must be unique within an AWS account and region, and a training job "
                f"with this name already exists ({arn or training_job_arn(name)})", code="ResourceInUse") from None
        return self.job(name)


@dataclass(frozen=True)
class JobDir:
    root: Path

    @property
    def name(self) -> str:
        return self.root.name

    def host_base(self, host: str) -> Path:
        return self.root / "hosts" / host

    def checkpoint_dir(self, host: str) -> Path:
        return self.root / "checkpoints" / host

    @property
    def request_file(self) -> Path:
        return self.root / "request.json"

    @property
    def state_file(self) -> Path:
        return self.root / "job.json"

    @property
    def log_file(self) -> Path:
        return self.root / "job.log"

    @property
    def stop_marker(self) -> Path:
        return self.root / "stop"

    def write_json(self, path: Path, content: dict) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(content, indent=2, default=json_default) + "\n")
        os.replace(tmp, path)  # readers (describe, another process) never see half a file

    def read_state(self) -> dict:
        return json.loads(self.state_file.read_text())
