"""Which runner and image a job gets, for `smlocal train` and the API alike.

SageMaker's built-in images (`<account>.dkr.ecr.<region>.amazonaws.com/image-classification:1`,
as `sagemaker.image_uris.retrieve` returns them, for any account and region) stand for this
project's images of the same algorithm (`smlocal/<algorithm>:latest`, `:gpu` for GPU instance
types on a machine with GPUs); `AlgorithmName` naming a built-in means the same. Any other image
is a bring-your-own container and runs as it is, with Docker.

Runner, unless `--runner docker|process` forces one:
- built-in algorithm: Docker when an engine answers and the local image exists, else local
  processes (`python -m container train`, this project's own code, no Docker needed);
- any other image: Docker.
The choice, and why, goes into the job's log. The built-ins are the algorithms of the manifest
(emulator.algorithms), also those an installation adds.
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, replace
from typing import Callable

from emulator import algorithms
from emulator.instance_types import UnknownInstanceType, lookup, visible_gpu_count
from emulator.runners.base import DEFAULT_STOP_GRACE_SECONDS, LogSink, RunRequest, Runner, RunningJob
from emulator.spec import RequestValidationError, TrainingJobSpec

RUNNER_MODES = ("auto", "docker", "process")
DEFAULT_IMAGE_REPO = "smlocal"
CPU_TAG, GPU_TAG = "latest", "gpu"
# The process runner's command instead of `python -m container train` (the tests' fake algorithm).
PROCESS_COMMAND_ENV = "SMLOCAL_PROCESS_COMMAND"
# <12-digit account>.dkr.ecr.<region>.amazonaws.com[.cn]/<algorithm>:<tag>
BUILTIN_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/"
                           r"(?P<algorithm>[A-Za-z0-9-]+):[A-Za-z0-9_.\-]+$")


def builtin_algorithm(spec: TrainingJobSpec) -> str | None:
    """The built-in algorithm a request asks for by SageMaker's own names, else None."""
    known = algorithms.names()
    if spec.algorithm_name in known:
        return spec.algorithm_name
    match = BUILTIN_IMAGE.match(spec.training_image or "")
    return match["algorithm"] if match and match["algorithm"] in known else None


@dataclass(frozen=True)
class Placement:
    """The chosen runner, itself a Runner: it starts the chosen image."""

    runner: Runner
    kind: str                 # "docker" or "process"
    image: str | None         # what the Docker runner starts (None: the process runner)
    note: str                 # one line for the job log: what runs and why

    @property
    def name(self) -> str:
        return self.runner.name

    @property
    def sees_host_paths(self) -> bool:
        return self.runner.sees_host_paths

    def start(self, request: RunRequest, log: LogSink) -> RunningJob:
        return self.runner.start(request if self.image is None else replace(request, image=self.image), log)


class DockerProbe:
    """Answers "does an engine answer?" and "does this image exist?" (False when Docker is missing)."""

    def __init__(self, client_factory: Callable | None = None) -> None:
        self._client_factory = client_factory

    def _client(self):
        if self._client_factory is not None:
            return self._client_factory()
        import docker  # imported here: the process runner must work without the Docker SDK's engine

        return docker.from_env(timeout=10)

    def engine(self) -> bool:
        try:
            self._client().ping()
            return True
        except Exception:  # noqa: BLE001 - any failure means "no usable engine"
            return False

    def has_image(self, tag: str) -> bool:
        try:
            self._client().images.get(tag)
            return True
        except Exception:  # noqa: BLE001 - not found, no engine, no SDK
            return False


class Placer:
    def __init__(self, mode: str = "auto", *, strict_gpu: bool = False, image_repo: str = DEFAULT_IMAGE_REPO,
                 stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS, process_command: str | None = None,
                 docker: DockerProbe | None = None, gpu_count: Callable[[], int] = visible_gpu_count,
                 runner_factory: Callable[[str], Runner] | None = None) -> None:
        if mode not in RUNNER_MODES:
            raise ValueError(f"runner must be one of {', '.join(RUNNER_MODES)}, got {mode!r}")
        self.mode = mode
        self.strict_gpu = strict_gpu
        self.image_repo = image_repo
        self.stop_grace_seconds = stop_grace_seconds
        self.process_command = process_command or os.environ.get(PROCESS_COMMAND_ENV)
        self.docker = docker or DockerProbe()
        self.gpu_count = gpu_count
        self._runner_factory = runner_factory or self._make_runner

    def _make_runner(self, kind: str) -> Runner:
        if kind == "docker":
            from emulator.runners.docker_runner import DockerRunner

            return DockerRunner(strict_gpu=self.strict_gpu, fail_fast_grace_seconds=self.stop_grace_seconds)
        from emulator.runners.process import ProcessRunner

        command = shlex.split(self.process_command) if self.process_command else None
        return ProcessRunner(command, fail_fast_grace_seconds=self.stop_grace_seconds, strict_gpu=self.strict_gpu)

    def local_image(self, algorithm: str, instance_type: str) -> str:
        """This project's image for a built-in: the GPU tag only where GPUs exist and it was built."""
        try:
            wants_gpu = lookup(instance_type).wants_gpu
        except UnknownInstanceType:
            wants_gpu = False
        gpu_image = f"{self.image_repo}/{algorithm}:{GPU_TAG}"
        if wants_gpu and self.gpu_count() > 0 and self.docker.has_image(gpu_image):
            return gpu_image
        return f"{self.image_repo}/{algorithm}:{CPU_TAG}"

    def place(self, spec: TrainingJobSpec) -> Placement:
        """Raises RequestValidationError when the forced runner cannot run this job at all."""
        forced = f"forced by --runner {self.mode}"
        builtin = builtin_algorithm(spec)
        requested = spec.training_image or f"AlgorithmName {spec.algorithm_name}"
        if builtin is None:
            if self.mode == "process":
                if spec.algorithm is None:
                    raise RequestValidationError(
                        f"TrainingImage '{spec.training_image}' is not one of the built-in algorithms "
                        f"({', '.join(algorithms.names())}), and jobs run here as local processes "
                        f"(--runner process), which run only those; use --runner docker or auto.")
                return self._process(f"Runner: process ({forced}), algorithm {spec.algorithm}.")
            return self._docker(spec.training_image, f"Runner: docker, image {spec.training_image} "
                                                     f"(bring-your-own container).")
        image = self.local_image(builtin, spec.instance_type)
        if self.mode == "process":
            return self._process(f"Runner: process ({forced}), algorithm {builtin} (for {requested}).")
        if self.mode == "docker":
            return self._docker(image, f"Runner: docker ({forced}), image {image} (for {requested}).")
        if not self.docker.engine():
            return self._process(f"Runner: process, algorithm {builtin} (for {requested}): no Docker engine "
                                       f"answers, so this project's code runs as local processes.")
        if not self.docker.has_image(image):
            return self._process(f"Runner: process, algorithm {builtin} (for {requested}): the Docker image "
                                       f"{image} does not exist on this machine (make build), so this project's "
                                       f"code runs as local processes.")
        return self._docker(image, f"Runner: docker, image {image} (for {requested}).")

    def _docker(self, image: str, note: str) -> Placement:
        return Placement(self._runner_factory("docker"), "docker", image, note)

    def _process(self, note: str) -> Placement:
        return Placement(self._runner_factory("process"), "process", None, note)
