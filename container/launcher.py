"""Multi-host training: each host's container starts MXNet's parameter-server processes and the
training worker as children, and watches them.

Per host: one server and one worker (`python -m container train` with DMLC_ROLE=worker); host 1
also runs the scheduler. The DMLC_* variables come from resourceconfig.json and the host
addresses (container.cluster). The launcher itself stays small and never imports MXNet:

- SIGTERM is passed to the worker only; it stops after the current batch (together with the
  other workers), host 1's worker saves the model, and the parameter-server processes end by
  themselves once every worker has finished.
- When another host's training ends in failure (or its launcher disappears), this host's
  worker is killed at once: it could only wait forever for the missing peer.
- When the worker has ended, whatever parameter-server process is still running is
  terminated, so nothing outlives the container's main process.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from container import cluster
from container.config import ResourceConfig
from container.errors import AlgorithmError
from container.logs import get_logger
from container.stop import StopSignal

WORKER_ROLE = "worker"
# After a peer finished cleanly every worker is past MXNet's exit barrier; a worker still
# running this much later is stuck.
PEER_DONE_LINGER_SECONDS = 60.0
# Parameter-server processes end within milliseconds of the last worker; give them this long.
PS_SHUTDOWN_SECONDS = 10.0
SCHEDULER_ATTEMPTS = 5
SCHEDULER_START_SECONDS = 120.0  # `import mxnet` alone takes over a second; more on a busy machine
_POLL_SECONDS = 0.1


def is_worker(environ: dict[str, str]) -> bool:
    return environ.get("DMLC_ROLE") == WORKER_ROLE


def dmlc_environment(resources: ResourceConfig, addresses: dict[str, str], scheduler_port: int) -> dict[str, str]:
    """The variables every process of the parameter-server group needs (DMLC_ROLE aside)."""
    count = str(len(resources.hosts))
    return {
        "DMLC_PS_ROOT_URI": addresses[resources.hosts[0]],
        "DMLC_PS_ROOT_PORT": str(scheduler_port),
        "DMLC_NUM_SERVER": count,
        "DMLC_NUM_WORKER": count,
        # Without it ps-lite looks for a non-loopback interface, which a loopback-only
        # emulator host does not have.
        "DMLC_NODE_HOST": addresses[resources.current_host],
    }


class Launcher:
    def __init__(self, resources: ResourceConfig, base: Path, environ: dict[str, str], stop: StopSignal) -> None:
        self.resources = resources
        self.environ = {**os.environ, **environ}  # the process's, with the caller's overrides
        self.stop = stop
        self.log = get_logger()
        name = self.environ.get("TRAINING_JOB_NAME") or "training-job"
        self.job = cluster.job_identity(name, base, resources.current_host)
        self.is_coordinator = resources.host_rank == 0
        self.link: cluster.ControlLink | None = None
        self.ps_processes: dict[str, subprocess.Popen] = {}
        self.worker: subprocess.Popen | None = None

    def run(self) -> int:
        """The host's exit code: the worker's, or 1 when it had to be ended for another host."""
        try:
            return self._run()
        finally:
            self._terminate_all()
            if self.link is not None:
                self.link.close()

    def _run(self) -> int:
        hosts = self.resources.hosts
        self.log.info("Distributed training: %s is host %d of %d (%s)", self.resources.current_host,
                      self.resources.host_rank + 1, len(hosts), ", ".join(hosts))
        addresses = cluster.host_addresses(self.resources, self.environ)
        own = addresses[self.resources.current_host]
        if self.is_coordinator:
            coordinator = cluster.Coordinator(self.job, self.resources, own)
            self.link = coordinator
            port = self._start_scheduler(addresses)
            if port is None:
                return 0
            coordinator.open(port)
        else:
            self.link = cluster.join(self.job, self.resources, addresses[hosts[0]], self.stop)
            if self.link is None:
                self.log.info("Stopped before training started.")
                return 0
        env = self._environment(addresses, self.link.scheduler_port)
        self.ps_processes["server"] = self._spawn_ps_node("server", env)
        self.worker = subprocess.Popen([sys.executable, "-m", "container", "train"],
                                       env=dict(env, DMLC_ROLE=WORKER_ROLE), stdin=subprocess.DEVNULL)
        code, finished = self._watch()
        self.link.announce_exit(code, finished)
        return code

    def _environment(self, addresses: dict[str, str], scheduler_port: int) -> dict[str, str]:
        return {**self.environ, **dmlc_environment(self.resources, addresses, scheduler_port)}

    def _start_scheduler(self, addresses: dict[str, str]) -> int | None:
        """Start the scheduler on a free port and wait until it listens; the other hosts learn
        the port only then. A port another process took in between makes the scheduler fail to
        bind: then another port is tried. None if SIGTERM came first."""
        own = addresses[self.resources.current_host]
        for _ in range(SCHEDULER_ATTEMPTS):
            port = cluster.free_port(own)
            self.log.info("Starting the parameter-server scheduler on %s:%d", own, port)
            proc = self._spawn_ps_node("scheduler", self._environment(addresses, port))
            self.ps_processes["scheduler"] = proc
            deadline = time.monotonic() + SCHEDULER_START_SECONDS
            while proc.poll() is None and not cluster.listening(own, port):
                if self.stop.requested:
                    self.log.info("Stopped before training started.")
                    return None
                if time.monotonic() > deadline:
                    raise AlgorithmError(f"The parameter-server scheduler did not listen on {own}:{port} "
                                         f"within {SCHEDULER_START_SECONDS:.0f} s")
                time.sleep(_POLL_SECONDS)
            if proc.poll() is None:
                return port
            self.log.info("The scheduler could not use port %d (exit code %d); trying another.", port, proc.returncode)
        raise AlgorithmError(f"The parameter-server scheduler failed to start {SCHEDULER_ATTEMPTS} times")

    @staticmethod
    def _spawn_ps_node(role: str, env: dict[str, str]) -> subprocess.Popen:
        # `import mxnet` runs a scheduler or server loop when DMLC_ROLE says so, and exits after.
        # They only route and sum small messages: one thread each is plenty.
        return subprocess.Popen([sys.executable, "-c", "import mxnet"], stdin=subprocess.DEVNULL,
                                env=dict(env, DMLC_ROLE=role, OMP_NUM_THREADS="1"))

    def _watch(self) -> tuple[int, bool]:
        """(exit code, whether the worker ended by itself) once the worker is gone."""
        assert self.worker is not None and self.link is not None  # noqa: S101 - set by _run
        forwarded = False
        peer_done_at: float | None = None
        while (code := self.worker.poll()) is None:
            failure = self.link.first_failure()
            if failure is not None:
                how = f"exit code {failure.exit_code}" if failure.exit_code is not None else "its launcher is gone"
                self.log.error("Host %s ended (%s); ending training on %s too.", failure.host, how,
                               self.resources.current_host)
                self._kill(self.worker)
                return 1, False
            broken = self._failed_ps_node()
            if broken:
                self._kill(self.worker)
                raise AlgorithmError(broken)
            if self.stop.requested and not forwarded:
                forwarded = True
                if self.link.complete:
                    self.worker.send_signal(signal.SIGTERM)
                else:
                    # Not every host joined, so the worker cannot have started training: it is
                    # waiting for the parameter-server group, which will never form.
                    self.log.info("Stopped before every host joined; ending the worker.")
                    self._kill(self.worker)
                    return 0, False
            if peer_done_at is None and any(not end.failed for end in self.link.ended):
                peer_done_at = time.monotonic()
            if peer_done_at is not None and time.monotonic() - peer_done_at > PEER_DONE_LINGER_SECONDS:
                self._kill(self.worker)
                raise AlgorithmError(
                    f"The training worker on {self.resources.current_host} did not finish within "
                    f"{PEER_DONE_LINGER_SECONDS:.0f} s after another host completed")
            time.sleep(_POLL_SECONDS)
        return code, True

    def _failed_ps_node(self) -> str | None:
        for role, proc in self.ps_processes.items():
            code = proc.poll()
            if code is not None and code != 0:
                return f"The parameter-server {role} on {self.resources.current_host} exited with code {code}"
        return None

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    def _terminate_all(self) -> None:
        """Let the parameter-server processes finish on their own, then end whatever is left."""
        if self.worker is not None:
            self._kill(self.worker)
        clean = self.worker is not None and self.worker.returncode == 0
        deadline = time.monotonic() + (PS_SHUTDOWN_SECONDS if clean else 0.0)
        for proc in self.ps_processes.values():
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.terminate()
        for proc in self.ps_processes.values():
            try:
                proc.wait(2.0)
            except subprocess.TimeoutExpired:
                self._kill(proc)
