"""Run the training image with Docker, one container per host, the way SageMaker runs it.

Per host: `docker run IMAGE train` with the host's /opt/ml parts mounted (input/config and
input/data read-only, model, output and the checkpoint directory read-write), CPU and memory
limits of the instance type (capped at what the machine has), a /dev/shm large enough for data
loader workers, and `--gpus all` for GPU instance types and `local_gpu`.

Network: a single host runs with `--network none` (SageMaker's network isolation: nothing in,
nothing out). Several hosts share the machine's network (`--network host`), each container named
after its host (algo-1, ...) with every host name mapped to the loopback address; the same map is
in SMLOCAL_HOST_ADDRESSES (JSON host -> address) for the image's distributed-training code.

Stop: `docker stop` semantics (SIGTERM to PID 1, SIGKILL after the grace period). When one host
fails the others are stopped, as SageMaker ends the job. At the end, files the containers wrote
(as root) are handed to the user who runs the emulator, and the containers are removed. Should
the emulator process die first (kill -9 included), a watcher process
(`emulator.runners.supervisor`) removes the job's containers.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import threading
import time
from pathlib import Path

import docker
import docker.errors
from docker.types import DeviceRequest, Mount

from container.contract import DEFAULT_BASE_DIR, DEFAULT_CHECKPOINT_DIR, MLPaths
from emulator.instance_types import ContainerLimits, HostCapacity, InstanceType, container_limits, lookup
from emulator.pretrained.store import default_store
from emulator.runners import supervisor
from emulator.runners.base import HostLayout, LogSink, RunRequest

CONTAINER_MODEL_STORE = "/opt/ml-models"
LOOPBACK = "127.0.0.1"
GIB = 1024 ** 3
# How the engine says that it cannot give GPUs to a container (no NVIDIA runtime / no GPU).
_NO_GPU_MARKERS = ("could not select device driver", "nvidia-container-cli", "no nvidia devices")


class DockerRunnerError(RuntimeError):
    """The job cannot start under Docker (no engine, no image, no GPU with strict_gpu)."""


class GpuUnavailableError(DockerRunnerError):
    pass


class DockerRunner:
    name = "docker"
    # Config files must carry paths as the container sees them (/opt/ml/...), not host paths.
    sees_host_paths = False

    def __init__(self, strict_gpu: bool = False, *, client: docker.DockerClient | None = None,
                 owner: tuple[int, int] | None = None, model_store: str | os.PathLike | None = None,
                 entrypoint: list[str] | None = None, host_capacity: HostCapacity | None = None,
                 fail_fast_grace_seconds: float = 120.0, keep_containers: bool = False):
        """
        strict_gpu: a GPU instance type on a machine where Docker cannot give GPUs is an error
            (default: run on CPU with a warning in the job log).
        owner: (uid, gid) that gets the files the containers wrote; default the calling user.
        model_store: host directory of pretrained weights mounted read-only at /opt/ml-models;
            default the store `smlocal pretrained` fills ($SMLOCAL_MODEL_STORE, else ~/.smlocal/models)
            when that directory exists.
        entrypoint: like AlgorithmSpecification.ContainerEntrypoint: replaces the image's entry
            point, and `train` is not passed.
        """
        self.strict_gpu = strict_gpu
        self._client = client
        self.owner = owner if owner is not None else (os.getuid(), os.getgid())
        store = default_store() if model_store is None else Path(model_store) if model_store else None  # "": none
        self.model_store = store if store is not None and store.is_dir() else None
        self.entrypoint = list(entrypoint) if entrypoint else None
        self.host_capacity = host_capacity or HostCapacity.detect()
        self.fail_fast_grace_seconds = fail_fast_grace_seconds
        self.keep_containers = keep_containers

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                self._client = docker.from_env()
                self._client.ping()
            except docker.errors.DockerException as exc:
                raise DockerRunnerError(
                    f"Cannot reach the Docker engine ({exc}); start dockerd (see docs/docker.md) "
                    f"or run without --image to use local processes.") from exc
        return self._client

    def start(self, request: RunRequest, log: LogSink) -> "DockerJob":
        if not request.image:
            raise DockerRunnerError("The Docker runner needs an image (TrainingImage / --image).")
        instance = lookup(request.instance_type)
        try:
            self.client.images.get(request.image)
        except docker.errors.ImageNotFound:
            raise DockerRunnerError(
                f"Docker image {request.image!r} does not exist on this machine; build it (make build) "
                f"or pull it first.") from None
        return DockerJob(self, request, instance, log)

    # ---- what one host's container gets -------------------------------------------------------

    def limits(self, instance: InstanceType, hosts: int) -> ContainerLimits:
        return container_limits(instance, self.host_capacity, hosts_on_machine=hosts)

    def mounts(self, request: RunRequest, host: HostLayout) -> list[Mount]:
        inside, outside = MLPaths(Path(DEFAULT_BASE_DIR)), MLPaths(host.base)
        mounts = [
            Mount(str(inside.input_config), str(outside.input_config), type="bind", read_only=True),
            # Staged channel files may be hard links to the user's own data: never writable.
            Mount(str(inside.data), str(outside.data), type="bind", read_only=True),
            Mount(str(inside.model), str(outside.model), type="bind"),
            Mount(str(inside.output), str(outside.output), type="bind"),
        ]
        if host.checkpoint_dir is not None:
            target = request.checkpoint_local_path or DEFAULT_CHECKPOINT_DIR
            mounts.append(Mount(target, str(host.checkpoint_dir), type="bind"))
        if self.model_store is not None:
            mounts.append(Mount(CONTAINER_MODEL_STORE, str(self.model_store.resolve()), type="bind", read_only=True))
        return mounts

    def environment(self, request: RunRequest, host: HostLayout) -> dict[str, str]:
        env = dict(request.environment)
        env.setdefault("TRAINING_JOB_NAME", request.job_name)
        env["SMLOCAL_HOST_ADDRESSES"] = json.dumps({h.host: LOOPBACK for h in request.hosts})
        return env

    def container_options(self, request: RunRequest, host: HostLayout, instance: InstanceType,
                          gpu: bool) -> dict:
        limits = self.limits(instance, len(request.hosts))
        distributed = len(request.hosts) > 1
        options = dict(
            image=request.image,
            command=None if self.entrypoint else ["train"],
            entrypoint=self.entrypoint,
            name=container_name(request.job_name, host.host),
            hostname=host.host,
            environment=self.environment(request, host),
            mounts=self.mounts(request, host),
            network_mode="host" if distributed else "none",
            extra_hosts={h.host: LOOPBACK for h in request.hosts},
            shm_size=limits.shm_bytes,
            labels={"smlocal.job": request.job_name, "smlocal.host": host.host},
            detach=True,
        )
        if limits.nano_cpus is not None:
            options["nano_cpus"] = limits.nano_cpus
        if limits.memory_bytes is not None:
            options["mem_limit"] = limits.memory_bytes
        if gpu:
            options["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
        return options


def container_name(job_name: str, host: str) -> str:
    return f"smlocal-{job_name}-{host}"


def describe_limits(limits: ContainerLimits) -> str:
    cpus = "all CPUs" if limits.nano_cpus is None else f"{limits.nano_cpus / 1e9:g} CPUs"
    memory = "all memory" if limits.memory_bytes is None else f"{limits.memory_bytes / GIB:.1f} GiB memory"
    return f"{cpus}, {memory}, /dev/shm {limits.shm_bytes / GIB:.1f} GiB"


class DockerJob:
    """The containers of one job; `wait()` and `stop()` as the Runner protocol defines them."""

    def __init__(self, runner: DockerRunner, request: RunRequest, instance: InstanceType, log: LogSink) -> None:
        self._runner = runner
        self._request = request
        self._log = log
        self._client = runner.client
        self._lock = threading.Lock()
        self._stopping = False
        self._finished = False
        self._codes: dict[str, int] = {}
        self.containers: dict[str, docker.models.containers.Container] = {}
        self.gpu = instance.wants_gpu
        self._threads: list[threading.Thread] = []
        # Started before the first container, so that no moment leaves one without a watcher.
        self._watcher = subprocess.Popen(
            supervisor.watcher_line(os.getpid(), [container_name(request.job_name, h.host) for h in request.hosts]),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        try:
            for host in request.hosts:
                self.containers[host.host] = self._start_host(host, instance)
        except BaseException:
            self._remove_all()
            self._end_watcher()
            raise
        for host, container in self.containers.items():
            for target, name in ((self._stream_logs, "log"), (self._wait_host, "wait")):
                thread = threading.Thread(target=target, args=(host, container), daemon=True, name=f"{name}-{host}")
                thread.start()
                self._threads.append(thread)

    # ---- start --------------------------------------------------------------------------------

    def _start_host(self, host: HostLayout, instance: InstanceType):
        runner, request = self._runner, self._request
        self._remove_stale(container_name(request.job_name, host.host))
        options = runner.container_options(request, host, instance, self.gpu)
        for mount in options["mounts"]:
            if not mount["ReadOnly"]:
                # The engine refuses a missing bind source; created here, the directory is the caller's.
                Path(mount["Source"]).mkdir(parents=True, exist_ok=True)
        container = self._client.containers.create(**options)
        try:
            container.start()
        except docker.errors.APIError as exc:
            container.remove(force=True)
            if not (self.gpu and _is_no_gpu_error(exc)):
                raise
            # All hosts share this machine, so this happens on the first host or not at all.
            self._no_gpu(host, instance, exc)
            return self._start_host(host, instance)
        self._log(host.host, self._start_line(container, host, instance))
        return container

    def _no_gpu(self, host: HostLayout, instance: InstanceType, exc: docker.errors.APIError) -> None:
        if self._runner.strict_gpu:
            raise GpuUnavailableError(
                f"Instance type {instance.name} needs GPUs, but Docker cannot give GPUs to containers on "
                f"this machine ({exc.explanation}). Install the NVIDIA driver and container toolkit, "
                f"or choose a CPU instance type.") from exc
        self.gpu = False
        self._log(host.host, f"WARNING: instance type {instance.name} has GPUs, but Docker cannot give GPUs "
                             f"to containers on this machine ({exc.explanation}); training on CPU.")

    def _start_line(self, container, host: HostLayout, instance: InstanceType) -> str:
        limits = self._runner.limits(instance, len(self._request.hosts))
        network = "host" if len(self._request.hosts) > 1 else "none"
        gpus = ", all GPUs" if self.gpu else ""
        return (f"Started container {container.name} ({self._request.image}) for {host.host} on "
                f"{instance.name}: {describe_limits(limits)}{gpus}, network {network}")

    def _remove_stale(self, name: str) -> None:
        try:
            old = self._client.containers.get(name)
        except docker.errors.NotFound:
            return
        old.reload()
        if old.status == "running":
            raise DockerRunnerError(f"Container {name} is still running; a job of this name is in progress.")
        old.remove(force=True)

    # ---- while running ------------------------------------------------------------------------

    def _stream_logs(self, host: str, container) -> None:
        pending = b""
        try:
            for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._log(host, line.decode("utf-8", errors="replace").rstrip("\r"))
        except docker.errors.APIError as exc:  # container removed under us
            self._log(host, f"(log stream ended: {exc.explanation})")
        if pending:
            self._log(host, pending.decode("utf-8", errors="replace").rstrip("\r"))

    def _wait_host(self, host: str, container) -> None:
        try:
            code = int(container.wait()["StatusCode"])
        except (docker.errors.APIError, KeyError) as exc:
            self._log(host, f"Lost track of container {container.name}: {exc}")
            code = 1
        with self._lock:
            self._codes[host] = code
            fail_others = code != 0 and not self._stopping and len(self._codes) < len(self.containers)
            if fail_others:
                self._stopping = True
        if fail_others:
            self._log(host, f"Host {host} exited with code {code}; stopping the other hosts.")
            threading.Thread(target=self._stop_all, args=(self._runner.fail_fast_grace_seconds,),
                             daemon=True, name="fail-fast").start()

    # ---- Runner protocol ----------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> dict[str, int] | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return None
        self._finish()
        return dict(self._codes)

    def stop(self, grace_seconds: float = 120.0) -> None:
        with self._lock:
            self._stopping = True
        self._stop_all(grace_seconds)

    def _stop_all(self, grace_seconds: float) -> None:
        threads = [threading.Thread(target=_stop_container, args=(c, grace_seconds), daemon=True)
                   for c in self.containers.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # ---- after the end ------------------------------------------------------------------------

    def _finish(self) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
        try:
            self._hand_over_files()
        finally:
            self._end_watcher()
            if not self._runner.keep_containers:
                self._remove_all()

    def _end_watcher(self) -> None:
        self._watcher.terminate()
        self._watcher.wait()

    def _hand_over_files(self) -> None:
        """Containers write as root: give what they could write to the emulator's user."""
        uid, gid = self._runner.owner
        if (uid, gid) == (0, 0):
            return
        writable = [m for host in self._request.hosts for m in self._runner.mounts(self._request, host)
                    if not m["ReadOnly"]]
        mounts = [Mount(f"/handover/{i}", m["Source"], type="bind") for i, m in enumerate(writable)]
        # -h: change symbolic links themselves, never what they point to.
        command = ["-R", "-h", f"{uid}:{gid}", *(m["Target"] for m in mounts)]
        try:
            self._client.containers.run(self._request.image, command, entrypoint=["chown"], mounts=mounts,
                                        network_mode="none", remove=True, user="0:0")
        except docker.errors.DockerException as exc:
            first = self._request.hosts[0].host
            self._log(first, f"WARNING: could not hand the job's files to uid {uid} ({exc}); "
                             f"they stay owned by root.")

    def _remove_all(self) -> None:
        for container in self.containers.values():
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # removal already in progress
                    raise


def _stop_container(container, grace_seconds: float) -> None:
    try:
        if grace_seconds <= 0:
            container.kill()
        else:
            container.stop(timeout=math.ceil(grace_seconds))
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: not running any more
            raise


def _is_no_gpu_error(exc: docker.errors.APIError) -> bool:
    text = str(exc.explanation or exc).lower()
    return any(marker in text for marker in _NO_GPU_MARKERS)
