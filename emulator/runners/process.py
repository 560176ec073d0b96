"""Run the image's code as local processes, one per host, without Docker.

Each host runs `python -m container train` (or a configured command) with SAGEMAKER_BASE_DIR
pointing at its /opt/ml tree on disk, so the image code reads and writes exactly the files it
would inside a container. Each host is its own process group, led by a supervisor
(`emulator.runners.supervisor`) that kills the group if this process dies, even by kill -9:
stopping sends SIGTERM to the host (the supervisor passes it to the main process, as `docker
stop` does to PID 1), waits for the grace period, then kills the whole group; when a host's
main process ends, whatever it left running is killed too, as it would be when a container
exits. If one host fails the others are stopped (SageMaker ends the job when any host fails).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from container.contract import BASE_DIR_ENV
from emulator.instance_types import UnknownInstanceType, lookup, visible_gpu_count
from emulator.runners import supervisor
from emulator.runners.supervisor import exit_code
from emulator.runners.base import HostLayout, LogSink, RunRequest

DEFAULT_COMMAND = (sys.executable, "-m", "container", "train")
LOOPBACK = "127.0.0.1"
# Variables of the calling shell that must not leak into a job's processes.
_PLATFORM_VARIABLES = (BASE_DIR_ENV, "SAGEMAKER_ALGORITHM", "TRAINING_JOB_NAME", "TRAINING_JOB_ARN",
                       "SMLOCAL_HOST_ADDRESSES")


class GpuUnavailableError(RuntimeError):
    """A GPU instance type with strict GPU checking on a machine without GPUs."""


def _project_root() -> Path:
    return Path(__file__).resolve().parents[2]


class ProcessRunner:
    name = "process"
    # The image code sees host trees at their on-disk paths, so config files must carry those paths.
    sees_host_paths = True

    def __init__(self, command: list[str] | tuple[str, ...] | None = None, fail_fast_grace_seconds: float = 120.0,
                 strict_gpu: bool = False, gpu_count=visible_gpu_count):
        """strict_gpu: a GPU instance type on a machine without GPUs is an error (default: train on
        CPU with a warning in the job log). gpu_count: how many GPUs the machine has (a callable)."""
        self.command = list(command or DEFAULT_COMMAND)
        self.fail_fast_grace_seconds = fail_fast_grace_seconds
        self.strict_gpu = strict_gpu
        self.gpu_count = gpu_count

    def environment(self, request: RunRequest, host: HostLayout) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _PLATFORM_VARIABLES}
        if self.command[1:3] == list(DEFAULT_COMMAND[1:3]):
            # `python -m container train|serve` must resolve even when the project is not pip-installed.
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_project_root()), env.get("PYTHONPATH")]))
        env.update(request.environment)
        env.update({
            BASE_DIR_ENV: str(host.base),
            "TRAINING_JOB_NAME": request.job_name,
            "SMLOCAL_HOST_ADDRESSES": json.dumps({h.host: LOOPBACK for h in request.hosts}),
            "PYTHONUNBUFFERED": "1",
        })
        if request.algorithm:
            env["SAGEMAKER_ALGORITHM"] = request.algorithm
        return env

    def start(self, request: RunRequest, log: LogSink) -> "ProcessJob":
        # Checked here: started by the supervisor, a missing program would only be an exit code.
        if shutil.which(self.command[0]) is None:
            raise FileNotFoundError(f"No such program: {self.command[0]}")
        self._check_gpus(request, log)
        return ProcessJob(self, request, log)

    def _check_gpus(self, request: RunRequest, log: LogSink) -> None:
        """Processes see the machine's GPUs as they are; say so when the instance type wants more."""
        try:
            instance = lookup(request.instance_type)
        except UnknownInstanceType:
            return
        if not instance.wants_gpu or self.gpu_count() > 0:
            return
        if self.strict_gpu:
            raise GpuUnavailableError(
                f"Instance type {instance.name} needs GPUs, but this machine has none (nvidia-smi finds no GPU); "
                f"choose a CPU instance type, or allow training on CPU (no strict GPU option).")
        log(request.hosts[0].host, f"WARNING: instance type {instance.name} has GPUs, but this machine has none; "
                                   f"training on CPU.")


class ProcessJob:
    def __init__(self, runner: ProcessRunner, request: RunRequest, log: LogSink) -> None:
        self._log = log
        self._grace_on_failure = runner.fail_fast_grace_seconds
        self._lock = threading.Lock()
        self._stopping = False
        self._procs: dict[str, subprocess.Popen] = {}
        self._readers: list[threading.Thread] = []
        for host in request.hosts:
            proc = subprocess.Popen(
                supervisor.command_line(os.getpid(), runner.command), env=runner.environment(request, host),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            self._procs[host.host] = proc
            reader = threading.Thread(target=self._read, args=(host.host, proc), daemon=True,
                                      name=f"log-{host.host}")
            reader.start()
            self._readers.append(reader)
        self._monitor = threading.Thread(target=self._watch, daemon=True, name="process-monitor")
        self._monitor.start()

    @property
    def pids(self) -> dict[str, int]:
        """Each host's supervisor: its pid is also the host's process group id."""
        return {host: proc.pid for host, proc in self._procs.items()}

    def _read(self, host: str, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None  # noqa: S101 - set by Popen(stdout=PIPE)
        for raw in iter(proc.stdout.readline, b""):
            self._log(host, raw.decode("utf-8", errors="replace").rstrip("\r\n"))
        proc.stdout.close()

    def _kill_group(self, proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _watch(self) -> None:
        """Reap leftovers of ended hosts; stop everyone when one host fails."""
        reaped: set[str] = set()
        while len(reaped) < len(self._procs):
            for host, proc in self._procs.items():
                if host in reaped or proc.poll() is None:
                    continue
                reaped.add(host)
                self._kill_group(proc)  # whatever the host's main process left behind
                if proc.returncode != 0 and len(reaped) < len(self._procs):
                    with self._lock:
                        already = self._stopping
                    if not already:
                        self._log(host, f"Host {host} exited with code {exit_code(proc.returncode)}; "
                                        f"stopping the other hosts.")
                        threading.Thread(target=self.stop, args=(self._grace_on_failure,), daemon=True).start()
            time.sleep(0.1)

    def wait(self, timeout: float | None = None) -> dict[str, int] | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in [self._monitor, *self._readers]:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return None
        return {host: exit_code(proc.wait()) for host, proc in self._procs.items()}

    def stop(self, grace_seconds: float = 120.0) -> None:
        with self._lock:
            self._stopping = True
        for proc in self._procs.values():
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace_seconds
        for proc in self._procs.values():
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for proc in self._procs.values():
            self._kill_group(proc)
