"""Training jobs behind the API: submission, background runs, stop, restart recovery.

Every job runs in its own background thread of the server process, through the runner its
placement chose; `HostSlots` lets at most `max_concurrent_jobs` hosts train at once (a job takes
one per instance; the others wait, InProgress / Starting). Every status change, log line and
metric value goes to the job store as it happens, so the store alone answers Describe,
GetLogEvents and GetMetricStatistics, and a restarted server still has them. Jobs that were
InProgress when the server died are marked Failed at the next start, and what they left
running is ended.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from emulator.api.errors import ApiError, not_found
from emulator.api.placement import PlacedRunner, Placer
from emulator.api.scheduler import HostSlots
from emulator.jobhome import JobHome
from emulator.lifecycle import (EMULATOR_LOG_SOURCE, MESSAGES, JobResult, Transition, TrainingJob, check_host_limit,
                                now, region_from_env)
from emulator.metrics import MetricValue, definitions_for
from emulator.spec import DEFAULT_ACCOUNT_ID, RequestValidationError, TrainingJobSpec
from emulator.staging import remove_tree
from emulator.store import DuplicateJob, JobStore, StoredJob

log = logging.getLogger("smlocal.api")

# How long StopTrainingJob waits for the job to report Stopping before it answers.
STOP_ACKNOWLEDGE_SECONDS = 2.0
NOTE_PREFIX = "[smlocal] "
RECOVERY_REASON = ("InternalServerError: The smlocal API server stopped while this job was {status} "
                   "({secondary}); it was marked Failed when the server started again at {when}.")


@dataclass
class ServiceOptions:
    max_concurrent_jobs: int = 1        # hosts, not jobs: a 2-instance job takes 2 (the CLI's name)
    stop_grace_seconds: float = 120.0
    region: str = field(default_factory=region_from_env)
    account: str = DEFAULT_ACCOUNT_ID


class TrainingService:
    def __init__(self, home: JobHome, store: JobStore, placer: Placer, options: ServiceOptions | None = None) -> None:
        self.home = home
        self.store = store
        self.placer = placer
        self.options = options or ServiceOptions()
        self.slots = HostSlots(self.options.max_concurrent_jobs)
        self._create_lock = threading.Lock()
        self._live: dict[str, TrainingJob] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._closing = False

    # ---- submission ---------------------------------------------------------------------------

    def create(self, request: dict, tags: list[tuple[str, str]] = ()) -> str:
        """Validate, claim the name, start the job in the background; returns the ARN."""
        try:
            spec = TrainingJobSpec.from_request(request)
        except RequestValidationError as exc:
            raise ApiError(exc.code, exc.message) from None
        # What the machine runs at all (SMLOCAL_MAX_HOSTS) first, then what this server was told to.
        try:
            check_host_limit(spec)
        except RequestValidationError as exc:
            raise ApiError(exc.code, exc.message) from None
        if not self.slots.fits(spec.instance_count):
            raise ApiError("ResourceLimitExceeded", f"This server trains at most {self.slots.slots} host(s) at once "
                                                    f"(smlocal api --max-concurrent-jobs {self.slots.slots}), and the "
                                                    f"job asks for InstanceCount {spec.instance_count}: start the "
                                                    f"server with --max-concurrent-jobs {spec.instance_count} or more.")
        with self._create_lock:
            existing = self.store.job(spec.name)
            if existing is not None:
                raise ApiError("ResourceInUse", "Training job names must be unique within an AWS account and "
                                                f"region, and a training job with this name already exists "
                                                f"({existing.arn})")
            try:
                placement = self.placer.place(spec)
                job = TrainingJob.submit(
                    spec, self.home, PlacedRunner(placement, lambda running: self._started(spec.name, running)),
                    region=self.options.region, account=self.options.account,
                    starting_message=self._starting_message(spec.instance_count),
                    stop_grace_seconds=self.options.stop_grace_seconds,
                    on_transition=lambda result, _t: self._save(spec.name, result),
                    on_log=lambda host, line: self._log_line(spec, host, line),
                    on_metric=lambda value: self._metric(spec.name, value))
            except RequestValidationError as exc:
                raise ApiError(exc.code, exc.message) from None
            extra = {"MetricDefinitions": [{"Name": n, "Regex": r}
                                           for n, r in definitions_for(spec.algorithm, spec.metric_definitions)],
                     "Runner": placement.kind, "Image": placement.image}
            try:
                self.store.insert_job(spec.name, job.result.arn, spec.request, job.result.to_dict(), extra, tags)
            except DuplicateJob:
                # Same name in other letter case: the ARN (lower-cased name) is already taken.
                remove_tree(job.dir.root)
                raise ApiError("ResourceInUse", "Training job names must be unique within an AWS account and "
                                                f"region, and a training job with this name already exists "
                                                f"({job.result.arn})") from None
            self._live[spec.name] = job
            job.note(placement.note)
            self.slots.enqueue(spec.name, spec.instance_count)
            thread = threading.Thread(target=self._run, args=(job,), name=f"job-{spec.name}", daemon=True)
            self._threads[spec.name] = thread
            thread.start()
        return job.result.arn

    def _starting_message(self, hosts: int) -> str:
        if not self.slots.would_wait(hosts):
            return "Starting the training job"
        ahead = self.slots.running_jobs + self.slots.waiting
        return (f"Waiting for a free training slot: {ahead} job(s) ahead; this server trains "
                f"{self.slots.slots} host(s) at once")

    def _run(self, job: TrainingJob) -> None:
        name = job.spec.name
        got_slot = self.slots.wait_turn(name, cancelled=lambda: job.stop_requested)
        try:
            job.run()
        except Exception:  # noqa: BLE001 - run() ends every job with a status; this is a last resort
            log.exception("training job %s ended with an unexpected error", name)
        finally:
            if got_slot:
                self.slots.release(name)
            self._live.pop(name, None)
            if not self._closing:  # shutdown() still joins the threads it knows
                self._threads.pop(name, None)

    # ---- what a running job reports ---------------------------------------------------------

    def _save(self, name: str, result: JobResult) -> None:
        self.store.save_state(name, result.to_dict())

    def _log_line(self, spec: TrainingJobSpec, host: str, line: str) -> None:
        if host == EMULATOR_LOG_SOURCE:
            # The emulator's own notes (runner, staging, packing) go to the first host's stream,
            # marked, so `fit(logs=True)` shows them among the algorithm's lines.
            host, line = spec.hosts[0], NOTE_PREFIX + line
        self.store.append_log(spec.name, host, line)

    def _metric(self, name: str, value: MetricValue) -> None:
        self.store.add_metric(name, value.name, value.timestamp.timestamp(), value.value)

    def _started(self, name: str, running) -> None:
        """Remember what the runner started, so a restarted server can end what a crash left behind."""
        processes = {}
        if isinstance(getattr(running, "pids", None), dict):
            processes["pids"] = dict(running.pids)
        containers = getattr(running, "containers", None)
        if isinstance(containers, dict):
            processes["containers"] = [c.name for c in containers.values()]
        self.store.update_extra(name, processes=processes)

    # ---- queries and stop ---------------------------------------------------------------------

    def job(self, name: str) -> StoredJob:
        stored = self.store.job(name)
        if stored is None:
            raise not_found()
        return stored

    def stop(self, name: str) -> None:
        stored = self.job(name)
        if stored.status not in ("InProgress", "Stopping"):
            raise ApiError("ValidationException", "The request was rejected because the training job is in "
                                                  f"status {stored.status}.")
        live = self._live.get(stored.name)
        if live is None:  # finished between the read and now
            return
        live.stop()
        self.slots.wake()
        # Answer once the job says Stopping (within a poll of its loop), as the real call does.
        deadline = time.monotonic() + STOP_ACKNOWLEDGE_SECONDS
        while live.result.status == "InProgress" and time.monotonic() < deadline:
            time.sleep(0.05)

    # ---- start and end of the server ----------------------------------------------------------

    def recover(self) -> list[str]:
        """Mark jobs a previous server left InProgress/Stopping as Failed; end their leftovers."""
        recovered = []
        for stored in self.store.active_jobs():
            if stored.name in self._live:
                continue
            _end_leftovers(stored)
            at = now()
            result = JobResult.from_dict(stored.state)
            reason = RECOVERY_REASON.format(status=result.status, secondary=result.secondary_status,
                                            when=at.isoformat(timespec="seconds"))
            if result.transitions and result.transitions[-1].end_time is None:
                result.transitions[-1].end_time = at
            result.transitions.append(Transition("Failed", at, MESSAGES["Failed"], at))
            result.status = result.secondary_status = "Failed"
            result.failure_reason = reason
            result.training_end_time = result.training_end_time or at
            result.last_modified_time = at
            self.store.save_state(stored.name, result.to_dict())
            job_dir = self.home.job(stored.name)
            if job_dir.root.is_dir():
                job_dir.write_json(job_dir.state_file, result.to_dict())
            self.store.append_log(stored.name, "algo-1", NOTE_PREFIX + reason)
            recovered.append(stored.name)
        return recovered

    def shutdown(self, timeout: float = 20.0) -> None:
        """Stop every job at once (kill, no grace) and give them `timeout` seconds to pack and end."""
        self._closing = True
        for job in list(self._live.values()):
            job.note("The API server is shutting down: stopping this job.")
            job.stop(force=True)
        self.slots.wake()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(max(0.0, deadline - time.monotonic()))

    def wait_idle(self, timeout: float) -> bool:
        """For tests and scripts: True once no job runs or waits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._live:
                return True
            time.sleep(0.05)
        return not self._live


def _end_leftovers(stored: StoredJob) -> None:
    processes = stored.extra.get("processes") or {}
    for pid in (processes.get("pids") or {}).values():
        if _runs_job(int(pid), stored.name):
            try:
                os.killpg(int(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    if processes.get("containers"):
        try:
            import docker

            client = docker.from_env(timeout=10)
            for name in processes["containers"]:
                try:
                    client.containers.get(name).remove(force=True)
                except docker.errors.NotFound:
                    pass
        except Exception as exc:  # noqa: BLE001 - no engine: nothing can still be running there
            log.warning("could not remove the containers of %s: %s", stored.name, exc)


def _runs_job(pid: int, job_name: str) -> bool:
    """True if process `pid` still is one of this job's (not a reused pid)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"TRAINING_JOB_NAME={job_name}".encode() in environ.split(b"\0")
