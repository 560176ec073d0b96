"""What every runner (process, docker) gets and returns.

The emulator prepares one /opt/ml tree per host (`HostLayout.base`), then a runner starts
the image on each host and reports exit codes. Runners never look inside the trees beyond
mounting them: the contract between emulator and image is SageMaker's files.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

LogSink = Callable[[str, str], None]  # (host, line) -> None
# Between SIGTERM and SIGKILL when a job is stopped (SageMaker gives 120 s).
DEFAULT_STOP_GRACE_SECONDS = 120.0


@dataclass(frozen=True)
class HostLayout:
    host: str                      # algo-1, algo-2, ...
    base: Path                     # the host's /opt/ml on the emulator's disk
    checkpoint_dir: Path | None = None  # CheckpointConfig.LocalPath on disk, mounted separately


@dataclass(frozen=True)
class RunRequest:
    job_name: str
    algorithm: str | None          # image-classification / object-detection / semantic-segmentation, None for BYO
    image: str | None              # docker image tag; None for the process runner
    instance_type: str
    hosts: list[HostLayout]
    environment: dict[str, str] = field(default_factory=dict)
    checkpoint_local_path: str | None = None  # path inside the container (default /opt/ml/checkpoints)


class RunningJob(Protocol):
    def wait(self, timeout: float | None = None) -> dict[str, int] | None:
        """Exit code per host once all hosts ended; None if the timeout passed first."""

    def stop(self, grace_seconds: float = 120.0) -> None:
        """SIGTERM every host, SIGKILL what is still running after the grace period."""


class Runner(Protocol):
    name: str
    # True when the image code sees each host tree at its on-disk path (process runner), so
    # config files must carry on-disk paths (checkpointconfig.json LocalPath); False when the
    # trees are mounted at /opt/ml (docker).
    sees_host_paths: bool

    def start(self, request: RunRequest, log: LogSink) -> RunningJob: ...


def started_processes(running: RunningJob) -> dict:
    """What a successor needs to end a job's processes should the emulator process die first:
    `{"pids": {host: pid}}` (process runner, each pid leads its host's process group) and/or
    `{"containers": [name, ...]}` (docker runner)."""
    processes = {}
    if isinstance(getattr(running, "pids", None), dict):
        processes["pids"] = dict(running.pids)
    containers = getattr(running, "containers", None)
    if isinstance(containers, dict):
        processes["containers"] = [c.name for c in containers.values()]
    return processes
