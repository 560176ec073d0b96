"""One inference server (an endpoint instance, or a transform job's instance) on a port of its own.

Process runner: `python -m container serve` (or SMLOCAL_SERVE_COMMAND) through the training
jobs' ProcessRunner, so it runs under the same supervisor, which ends it should the emulator die
(kill -9 included); SAGEMAKER_BASE_DIR is a folder whose `model/` holds the artifacts, and the
server listens on a free loopback port (SAGEMAKER_BIND_TO_PORT, SMLOCAL_SERVE_HOST=127.0.0.1).

Docker runner: `docker run IMAGE serve`, as SageMaker runs it: the artifacts mounted read-only at
/opt/ml/model, the server on the container's port 8080, published on a loopback port (a free
one Docker picks unless the spec names one; nothing reaches it from the network), the instance
type's CPU and memory (capped at the machine's), and a watcher process
(emulator.runners.supervisor) that removes the container should the emulator die.

Either way a server is ready when GET /ping answers 200; if it exits first, or does not answer
in time, the reason comes from its last log lines.
"""
from __future__ import annotations

import collections
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import requests

from emulator.hosting.placement import ServingPlacement
from emulator.instance_types import HostCapacity, UnknownInstanceType, container_limits, lookup
from emulator.runners import supervisor
from emulator.runners.base import HostLayout, RunRequest

SERVE_COMMAND_ENV = "SMLOCAL_SERVE_COMMAND"
DEFAULT_SERVE_COMMAND = (sys.executable, "-m", "container", "serve")
CONTAINER_PORT = 8080
CONTAINER_MODEL = "/opt/ml/model"
LOOPBACK = "127.0.0.1"
PING_TIMEOUT_SECONDS = 2.0        # SageMaker's /ping timeout
PING_INTERVAL_SECONDS = 0.05
# SageMaker's default for the first successful /ping (ContainerStartupHealthCheckTimeoutInSeconds sets it).
DEFAULT_STARTUP_SECONDS = 240
LOG_TAIL_LINES = 60
# The built-in images' own words for why they fail (container/entry.py, container/serve.py), then
# anything that looks like an error.
_CAUSE_LINE = re.compile(r"(Customer Error|Algorithm Error|ClientError|AlgorithmError)")
_ERROR_LINE = re.compile(r"(Error|Exception|Traceback|refused|denied)", re.I)

LogLine = Callable[[str], None]


class ServerFailed(Exception):
    """The server ended or never became healthy; the message is the FailureReason."""


class ServerCancelled(Exception):
    """Waiting for the server was given up (the endpoint or job went away meanwhile)."""


@dataclass(frozen=True)
class ServerSpec:
    label: str                      # the endpoint or transform job it serves (names the container)
    instance_id: str                # i-<hex>: names the log stream and the container
    placement: ServingPlacement
    base_dir: Path                  # its /opt/ml: base_dir/model holds the artifacts
    instance_type: str
    environment: dict[str, str] = field(default_factory=dict)
    port: int | None = None         # the loopback port to listen on (default: a free one)

    @property
    def model_dir(self) -> Path:
        return self.base_dir / "model"


class Server(Protocol):
    url: str
    log_tail: collections.deque

    def exit_code(self) -> int | None: ...
    def stop(self, grace_seconds: float) -> None: ...
    def leftovers(self) -> dict: ...


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def instance_cpus(instance_type: str, capacity: HostCapacity) -> int | None:
    """vCPUs of the instance type, capped at the machine's; None for local and unknown types."""
    try:
        instance = lookup(instance_type)
    except UnknownInstanceType:
        return None
    return None if instance.is_local else max(1, min(instance.vcpus, capacity.cpus))


class _Tail:
    """Passes each line on and keeps the last ones, which explain a server that failed."""

    def __init__(self, sink: LogLine) -> None:
        self.sink = sink
        self.lines: collections.deque = collections.deque(maxlen=LOG_TAIL_LINES)

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        self.sink(line)


def explain(lines, ending: str) -> str:
    """`ending` and what the server's log says about it: the image's own cause line, else its last
    error lines, else its last lines (a server's shutdown traceback comes after the cause)."""
    lines = [line.strip() for line in lines if line.strip()]
    causes = [line for line in lines if _CAUSE_LINE.search(line)]
    errors = [line for line in lines if _ERROR_LINE.search(line)]
    shown = causes[-1:] if causes else (errors or lines)[-3:]
    if not shown:
        return ending + " Its log is empty."
    return f"{ending} Its last log lines: " + " | ".join(shown)


# ---- process runner ------------------------------------------------------------------------------

class ProcessServer:
    def __init__(self, spec: ServerSpec, log: LogLine, command: list[str]) -> None:
        from emulator.runners.process import ProcessRunner

        port = spec.port or free_port()
        self.url = f"http://{LOOPBACK}:{port}"
        self._tail = _Tail(log)
        self.log_tail = self._tail.lines
        environment = {"SAGEMAKER_BIND_TO_PORT": str(port), "SMLOCAL_SERVE_HOST": LOOPBACK}
        cpus = instance_cpus(spec.instance_type, HostCapacity.detect())
        if cpus is not None:
            # What the container would pick on an instance of that size (one worker per CPU).
            environment["SAGEMAKER_MODEL_SERVER_WORKERS"] = str(cpus)
        environment.update(spec.environment)
        environment.update({"SAGEMAKER_BIND_TO_PORT": str(port), "SMLOCAL_SERVE_HOST": LOOPBACK})
        spec.model_dir.mkdir(parents=True, exist_ok=True)
        request = RunRequest(job_name=spec.label, algorithm=spec.placement.algorithm, image=None,
                             # The instance type's GPU note is the hosting service's: "local" skips the runner's.
                             instance_type="local", hosts=[HostLayout(spec.instance_id, spec.base_dir)],
                             environment=environment)
        self._job = ProcessRunner(command).start(request, lambda _host, line: self._tail(line))

    def exit_code(self) -> int | None:
        codes = self._job.wait(0)
        return None if codes is None else next(iter(codes.values()))

    def stop(self, grace_seconds: float) -> None:
        self._job.stop(grace_seconds)

    def leftovers(self) -> dict:
        return {"pids": dict(self._job.pids)}


# ---- docker runner -------------------------------------------------------------------------------

def container_name(label: str, instance_id: str) -> str:
    return f"smlocal-{label}-{instance_id}"


class DockerServer:
    def __init__(self, spec: ServerSpec, log: LogLine, client) -> None:
        import docker.errors
        from docker.types import DeviceRequest, Mount

        self._client = client
        self._tail = _Tail(log)
        self.log_tail = self._tail.lines
        self.name = container_name(spec.label, spec.instance_id)
        self._code: int | None = None
        options = dict(
            image=spec.placement.image, command=["serve"], name=self.name, detach=True,
            environment=dict(spec.environment),
            mounts=[Mount(CONTAINER_MODEL, str(spec.model_dir), type="bind", read_only=True)],
            ports={f"{CONTAINER_PORT}/tcp": (LOOPBACK, spec.port)},
            labels={"smlocal.serving": spec.label, "smlocal.instance": spec.instance_id},
        )
        try:
            options.update(self._limits(spec.instance_type))
        except UnknownInstanceType:
            pass  # an instance type the emulator has no figures for: the machine's CPUs and memory
        if spec.placement.image and spec.placement.image.endswith(":gpu"):
            options["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
        try:
            client.images.get(spec.placement.image)
        except docker.errors.ImageNotFound:
            raise ServerFailed(f"Docker image {spec.placement.image!r} does not exist on this machine; build it "
                               f"(make build) or pull it first.") from None
        # Started before the container, so that no moment leaves one without a watcher.
        self._watcher = subprocess.Popen(supervisor.watcher_line(os.getpid(), [self.name]),
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        try:
            self._remove_stale()
            self.container = client.containers.run(**options)
            self.container.reload()
            port = self.container.attrs["NetworkSettings"]["Ports"][f"{CONTAINER_PORT}/tcp"][0]["HostPort"]
        except Exception as exc:
            self._remove()
            raise ServerFailed(f"Docker could not start {spec.placement.image}: {exc}") from None
        self.url = f"http://{LOOPBACK}:{port}"
        self._tail(f"Started container {self.name} ({spec.placement.image}) on {spec.instance_type}, "
                   f"port {CONTAINER_PORT} published on {LOOPBACK}:{port}")
        self._threads = [threading.Thread(target=self._stream_logs, daemon=True, name=f"log-{self.name}"),
                         threading.Thread(target=self._wait, daemon=True, name=f"wait-{self.name}")]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _limits(instance_type: str) -> dict:
        limits = container_limits(lookup(instance_type), HostCapacity.detect())
        options: dict = {"shm_size": limits.shm_bytes}
        if limits.nano_cpus is not None:
            options["nano_cpus"] = limits.nano_cpus
        if limits.memory_bytes is not None:
            options["mem_limit"] = limits.memory_bytes
        return options

    def _remove_stale(self) -> None:
        import docker.errors

        try:
            self._client.containers.get(self.name).remove(force=True)
        except docker.errors.NotFound:
            pass

    def _stream_logs(self) -> None:
        import docker.errors

        pending = b""
        try:
            for chunk in self.container.logs(stream=True, follow=True, stdout=True, stderr=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._tail(line.decode("utf-8", errors="replace").rstrip("\r"))
        except docker.errors.APIError:
            pass  # removed under us: the container's end is reported by _wait
        if pending:
            self._tail(pending.decode("utf-8", errors="replace").rstrip("\r"))

    def _wait(self) -> None:
        try:
            self._code = int(self.container.wait()["StatusCode"])
        except Exception:  # noqa: BLE001 - removed, or the engine went away: the server is gone either way
            self._code = 137

    def exit_code(self) -> int | None:
        return self._code

    def stop(self, grace_seconds: float) -> None:
        import docker.errors

        try:
            self.container.stop(timeout=max(0, int(grace_seconds)))
        except docker.errors.APIError:
            pass  # gone already
        for thread in self._threads:
            thread.join(5)
        self._remove()

    def _remove(self) -> None:
        import docker.errors

        try:
            self._client.containers.get(self.name).remove(force=True)
        except docker.errors.DockerException:
            pass
        self._watcher.terminate()
        self._watcher.wait()

    def leftovers(self) -> dict:
        return {"containers": [self.name]}


# ---- both ----------------------------------------------------------------------------------------

class ServerFactory:
    """Starts servers as their placement says; the Docker client is made on first use."""

    def __init__(self, serve_command: str | None = None, docker_client: Callable | None = None) -> None:
        command = serve_command if serve_command is not None else os.environ.get(SERVE_COMMAND_ENV)
        self.command = shlex.split(command) if command else list(DEFAULT_SERVE_COMMAND)
        self._docker_client = docker_client
        self._client = None
        self._lock = threading.Lock()

    def docker(self):
        with self._lock:
            if self._client is None:
                if self._docker_client is not None:
                    self._client = self._docker_client()
                else:
                    import docker

                    self._client = docker.from_env(timeout=60)
            return self._client

    def start(self, spec: ServerSpec, log: LogLine) -> Server:
        if spec.placement.kind == "docker":
            return DockerServer(spec, log, self.docker())
        return ProcessServer(spec, log, self.command)


def ping(url: str) -> bool:
    try:
        return requests.get(f"{url}/ping", timeout=PING_TIMEOUT_SECONDS).status_code == 200
    except requests.RequestException:
        return False


def wait_until_healthy(server: Server, timeout: float, cancelled: Callable[[], bool] = lambda: False) -> float:
    """Seconds until /ping answered 200; ServerFailed if the server ends or times out first."""
    started = time.monotonic()
    while True:
        code = server.exit_code()
        if code is not None:
            raise ServerFailed(explain(server.log_tail, f"The container exited with code {code} before it passed "
                                                        f"the ping health check."))
        if cancelled():
            raise ServerCancelled()
        if ping(server.url):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise ServerFailed(explain(server.log_tail, f"The container did not pass the ping health check within "
                                                        f"{timeout:g} s."))
        time.sleep(PING_INTERVAL_SECONDS)
