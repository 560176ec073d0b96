"""One training job from submission to its final status, the way SageMaker runs it.

    job = TrainingJob.submit(spec, home, runner)   # validates the data, creates jobs/<name>/
    result = job.run()                             # blocks; job.stop() from any thread

Artifacts are packed in every case, also after a failure or a stop. Everything the job does goes
to the job store as it happens (emulator.store): its state (emulator.jobstate) at every change,
each log line (also to jobs/<name>/job.log) and each metric value, so whichever process asks
(`smlocal describe`, the API) sees the same job.

The process running a job holds the job's owner lock from submission to its final status. If
that process dies without finishing (kill -9, a crash), the next look at the job
(emulator.jobs) ends what is left of it and marks it Failed with the reason.
"""
from __future__ import annotations

import os
import threading
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Callable

from container.contract import FAILURE_REASON_LIMIT, MLPaths
from emulator.channels import ChannelSource, resolve_channels
from emulator.checkpoints import CheckpointSync
from emulator.configfiles import write_config_files
from emulator.instance_types import host_limit
from emulator.jobhome import JobDir, JobHome, OwnerLock
from emulator.jobstate import MESSAGES, STATUS_OF, TERMINAL, JobResult, Transition, now
from emulator.metrics import MetricCollector, MetricValue, definitions_for
from emulator.packing import pack_and_store
from emulator.pipe import prepare_fifos, start_feeders
from emulator.runners.base import DEFAULT_STOP_GRACE_SECONDS, HostLayout, RunRequest, Runner, RunningJob, \
    started_processes
from emulator.spec import (
    DEFAULT_ACCOUNT_ID, DEFAULT_REGION, RequestValidationError, TrainingJobSpec, path_segment, training_job_arn,
)
from emulator.staging import remove_tree, stage_channels
from emulator.storage import Storage, StorageError, join
from emulator.store import DuplicateJob, JobStore

__all__ = ["FAILURE_REASON_LIMIT", "TrainingJob", "artifact_locations", "check_host_limit", "region_from_env"]

EMULATOR_LOG_SOURCE = "smlocal"
# The emulator's notes go to the first host's log stream, marked, so `fit(logs=True)` shows them
# among the algorithm's lines.
NOTE_PREFIX = "[smlocal] "


def region_from_env() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def artifact_locations(output_path: str, job_name: str) -> tuple[str, str]:
    """Where the job's model.tar.gz and output.tar.gz go: <S3OutputPath>/<job>/output/."""
    base = join(output_path, path_segment(job_name, "Training job name"), "output")
    return join(base, "model.tar.gz"), join(base, "output.tar.gz")


def check_host_limit(spec: TrainingJobSpec, max_hosts: int | None = None, busy: dict[str, int] | None = None) -> None:
    """InstanceCount within what this machine runs at once (`max_hosts`, default `host_limit()`),
    less the hosts of the jobs in `busy` (job name -> hosts) that run already."""
    try:
        limit = host_limit() if max_hosts is None else max_hosts
    except ValueError as exc:
        raise RequestValidationError(str(exc)) from None
    in_use = sum((busy or {}).values())
    if spec.instance_count + in_use <= limit:
        return
    others = (f", and {in_use} of them run already ({', '.join(sorted(busy))})" if in_use else "")
    raise RequestValidationError(
        f"ResourceConfig.InstanceCount is {spec.instance_count}, but this machine runs at most {limit} host(s) at "
        f"once (one per CPU, at least 2, at most one per GiB of memory){others}. Lower InstanceCount, wait, or "
        f"raise the limit: smlocal train --max-hosts N, or the environment variable SMLOCAL_MAX_HOSTS=N.",
        code="ResourceLimitExceeded")


def name_taken(arn: str) -> RequestValidationError:
    return RequestValidationError("Training job names must be unique within an AWS account and region, and a "
                                  f"training job with this name already exists ({arn})", code="ResourceInUse")


def _failure_text(host_base: Path) -> str:
    path = MLPaths(host_base).failure
    return path.read_text(errors="replace").strip() if path.is_file() else ""


def failure_reason_from(host_base: Path, code: int) -> str:
    """FailureReason from the host's output/failure: its first 1024 characters."""
    text = _failure_text(host_base)
    if not text:
        return f"AlgorithmError: , exit code: {code}"
    if not text.startswith(("ClientError", "AlgorithmError")):
        text = f"AlgorithmError: {text}"
    return text[:FAILURE_REASON_LIMIT]


class JobStopped(Exception):
    """Raised between phases when a stop was requested before the algorithm started."""


class TrainingJob:
    def __init__(self, spec: TrainingJobSpec, job_dir: JobDir, runner: Runner, storage: Storage,
                 sources: dict[str, ChannelSource], result: JobResult, store: JobStore, owner: OwnerLock | None = None,
                 *, stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS,
                 checkpoint_interval_seconds: float = 2.0,
                 on_transition: Callable[[JobResult, Transition], None] | None = None,
                 on_log: Callable[[str, str], None] | None = None) -> None:
        self.spec = spec
        self.dir = job_dir
        self.runner = runner
        self.storage = storage
        self.sources = sources
        self.result = result
        self.store = store
        self.stop_grace_seconds = stop_grace_seconds
        self.checkpoint_interval_seconds = checkpoint_interval_seconds
        self.on_transition = on_transition
        self.on_log = on_log
        self._owner = owner
        self.metrics = MetricCollector(definitions_for(spec.algorithm, spec.metric_definitions), self._store_metric)
        self._stop_requested = threading.Event()
        self._force_stop = threading.Event()
        self._log_lock = threading.Lock()
        self._state_lock = threading.RLock()

    # ----- submission -------------------------------------------------------------------------

    @classmethod
    def submit(cls, spec: TrainingJobSpec, home: JobHome, runner: Runner, storage: Storage | None = None, *,
               store: JobStore | None = None, region: str | None = None, account: str = DEFAULT_ACCOUNT_ID,
               starting_message: str | None = None, max_hosts: int | None = None,
               busy_hosts: dict[str, int] | None = None, tags: list[tuple[str, str]] = (),
               **options) -> "TrainingJob":
        """Check the job's data, claim its directory and its record in the store (default: the home's);
        raises RequestValidationError, creating nothing.

        `starting_message`: what the first (Starting) status says until `run()` begins, e.g. that
        the job waits for a free slot; `run()` then switches to "Preparing the instances for training".
        `max_hosts`: the most hosts this machine runs at once (default `host_limit()`); `busy_hosts`:
        hosts of other jobs that count against it (see `Jobs.busy_hosts`).
        """
        check_host_limit(spec, max_hosts, busy_hosts)
        storage = storage or Storage()
        store = store or JobStore.open(home)
        region = region or region_from_env()
        arn = training_job_arn(spec.name, region, account)
        if home.job(spec.name).root.exists() or store.job(spec.name) is not None:
            raise name_taken(arn)
        for what, uri in (("OutputDataConfig.S3OutputPath", spec.output_path),
                          ("CheckpointConfig.S3Uri", spec.checkpoint_uri)):
            try:
                if uri is not None:
                    storage.check_destination(uri)
            except StorageError as exc:
                raise RequestValidationError(f"{what} '{uri}' cannot be used: {exc}") from exc
        sources = resolve_channels(spec, storage, region)
        job_dir = home.create_job_dir(spec.name, arn)
        result = JobResult(job_name=spec.name, arn=arn, creation_time=now(), owner_pid=os.getpid())
        job = cls(spec, job_dir, runner, storage, sources, result, store, job_dir.claim(), **options)
        # As for SageMaker's built-ins, Describe lists the metric definitions that apply.
        metrics = [{"Name": n, "Regex": r} for n, r in definitions_for(spec.algorithm, spec.metric_definitions)]
        try:
            store.insert_job(spec.name, arn, spec.request, result.to_record(), {"MetricDefinitions": metrics}, tags)
        except DuplicateJob:  # the same name in other letter case: the ARN (lower-cased name) is taken
            job._owner.release()
            remove_tree(job_dir.root)
            raise name_taken(arn) from None
        job._transition("Starting", starting_message)
        return job

    # ----- state --------------------------------------------------------------------------------

    def _save(self) -> None:
        self.store.save_state(self.spec.name, self.result.to_record())

    def _transition(self, secondary: str, message: str | None = None) -> None:
        with self._state_lock:
            at = now()
            if self.result.transitions and self.result.transitions[-1].end_time is None:
                self.result.transitions[-1].end_time = at
            transition = Transition(secondary, at, message or MESSAGES[secondary])
            if secondary in TERMINAL or secondary == "MaxRuntimeExceeded":
                transition.end_time = at
            self.result.transitions.append(transition)
            self.result.secondary_status = secondary
            if not (secondary == "Uploading" and self.result.status == "Stopping"):
                # A stopped job stays Stopping while its artifacts upload, as on SageMaker.
                self.result.status = STATUS_OF.get(secondary, "InProgress")
            self.result.last_modified_time = at
            self._save()
        self._write_log(EMULATOR_LOG_SOURCE, f"{secondary} - {transition.message}")
        if self.on_transition:
            self.on_transition(self.result, transition)

    def _enter_stopping(self) -> None:
        if self.result.secondary_status != "Stopping":
            self._transition("Stopping")

    def set_status_message(self, message: str) -> None:
        """Change what the current secondary status says (SageMaker updates the message in place)."""
        with self._state_lock:
            current = self.result.transitions[-1]
            if current.message == message:
                return
            current.message = message
            self.result.last_modified_time = now()
            self._save()
        self._write_log(EMULATOR_LOG_SOURCE, f"{current.status} - {message}")
        if self.on_transition:
            self.on_transition(self.result, current)

    def _write_log(self, host: str, line: str) -> datetime:
        with self._log_lock:  # the hosts' reader threads write too: whole lines, in order
            return self.dir.append_log(host, line)

    def _log(self, host: str, line: str) -> None:
        """A line of the job's log (an algorithm host's output or an emulator note).

        Status transitions are written to job.log only: they reach callers through on_transition
        and the store's state.
        """
        at = self._write_log(host, line)
        self.metrics.feed(line, at)
        stream, text = (self.spec.hosts[0], NOTE_PREFIX + line) if host == EMULATOR_LOG_SOURCE else (host, line)
        self.store.append_log(self.spec.name, stream, text)
        if self.on_log:
            self.on_log(host, line)

    def _store_metric(self, value: MetricValue) -> None:
        self.store.add_metric(self.spec.name, value.name, value.timestamp.timestamp(), value.value)

    def note(self, message: str) -> None:
        self._log(EMULATOR_LOG_SOURCE, message)

    def stop(self, force: bool = False) -> None:
        """Request a stop (thread-safe): SIGTERM, grace period, kill; the job ends Stopped with artifacts.

        `force` skips what is left of the grace period and kills the algorithm now. Another
        process asks for a stop through the job's stop marker (`Jobs.stop`).
        """
        if force:
            self._force_stop.set()
        self._stop_requested.set()

    @property
    def stop_requested(self) -> bool:
        if not self._stop_requested.is_set() and self.dir.stop_marker.exists():
            self._stop_requested.set()
        return self._stop_requested.is_set()

    def _check_stop(self) -> None:
        if self.stop_requested:
            raise JobStopped()

    # ----- running ------------------------------------------------------------------------------

    def host_layouts(self) -> list[HostLayout]:
        return [HostLayout(host=h, base=self.dir.host_base(h),
                           checkpoint_dir=self.dir.checkpoint_dir(h) if self.spec.checkpoint_uri else None)
                for h in self.spec.hosts]

    def run(self) -> JobResult:
        hosts = self.host_layouts()
        try:
            return self._run(hosts)
        finally:
            if self._owner is not None:
                self._owner.release()

    def _run(self, hosts: list[HostLayout]) -> JobResult:
        final = "Completed"
        checkpoints: CheckpointSync | None = None
        self.set_status_message(MESSAGES["Starting"])
        try:
            self._prepare_hosts(hosts)
            self._check_stop()
            self._transition("Downloading")
            self.result.training_start_time = now()
            checkpoints = self._download(hosts)
            self._check_stop()
            final = self._train(hosts, checkpoints)
        except JobStopped:
            final = "Stopped"
        except (StorageError, OSError) as exc:
            final = self._fail(f"ClientError: Data download failed: {exc}")
        except Exception as exc:  # noqa: BLE001 - the job must end with a status, never hang InProgress
            self.note(traceback.format_exc())
            final = self._fail(f"InternalServerError: {exc.__class__.__name__}: {exc}")
        if final in ("Stopped", "MaxRuntimeExceeded"):
            self._enter_stopping()
        self._transition("Uploading")
        final = self._upload(hosts, checkpoints, final)
        self.result.final_metrics = self.metrics.final()
        self.result.training_end_time = now()
        self._transition(final)
        return self.result

    def _fail(self, reason: str) -> str:
        if self.result.failure_reason is None:
            self.result.failure_reason = reason[:FAILURE_REASON_LIMIT]
        return "Failed"

    def _prepare_hosts(self, hosts: list[HostLayout]) -> None:
        for host in hosts:
            paths = MLPaths(host.base)
            for folder in (paths.data, paths.model, paths.output_data):
                folder.mkdir(parents=True, exist_ok=True)
            checkpoint_path = None
            if host.checkpoint_dir is not None:
                host.checkpoint_dir.mkdir(parents=True, exist_ok=True)
                # The process runner's code sees the host's folders where they are on disk.
                on_disk = self.runner.sees_host_paths
                checkpoint_path = str(host.checkpoint_dir) if on_disk else self.spec.checkpoint_local_path
            write_config_files(self.spec, host.host, host.base, checkpoint_path, self.result.arn)

    def _download(self, hosts: list[HostLayout]) -> CheckpointSync | None:
        pairs = [(h.host, h.base) for h in hosts]
        started = time.monotonic()
        fetched = stage_channels(self.sources, pairs, self.storage, should_stop=lambda: self.stop_requested)
        prepare_fifos(self.sources, pairs)
        if self.sources:
            self.note(f"Staged input data in {time.monotonic() - started:.1f} s ({fetched} bytes fetched).")
        if not self.spec.checkpoint_uri:
            return None
        sync = CheckpointSync(self.storage, self.spec.checkpoint_uri, [h.checkpoint_dir for h in hosts],
                              self.checkpoint_interval_seconds, self.note)
        count = sync.download()
        self.note(f"Restored {count} checkpoint file(s) from {self.spec.checkpoint_uri}.")
        return sync

    def _train(self, hosts: list[HostLayout], checkpoints: CheckpointSync | None) -> str:
        self._transition("Training")
        feeders_stop = threading.Event()
        start_feeders(self.sources, [(h.host, h.base) for h in hosts], self.storage, feeders_stop, self.note)
        if checkpoints:
            checkpoints.start()
        request = RunRequest(job_name=self.spec.name, algorithm=self.spec.algorithm, image=self.spec.training_image,
                             instance_type=self.spec.instance_type, hosts=hosts,
                             environment={**self.spec.environment, "TRAINING_JOB_NAME": self.spec.name,
                                          "TRAINING_JOB_ARN": self.result.arn},
                             checkpoint_local_path=self.spec.checkpoint_local_path)
        try:
            try:
                running = self.runner.start(request, self._log)
            except Exception as exc:  # noqa: BLE001 - no engine, no image, no GPU: the job cannot start
                self.note(traceback.format_exc())
                return self._fail(f"ClientError: The training image could not be started: {exc}")
            with self._state_lock:
                self.result.processes = started_processes(running)
                self._save()
            codes, stopped_because = self._watch(running)
        finally:
            feeders_stop.set()
        self.result.exit_codes = codes
        if stopped_because is not None:
            return stopped_because
        failed = [h for h in hosts if codes.get(h.host, 0) != 0]
        if not failed:
            return "Completed"
        culprit = next((h for h in failed if _failure_text(h.base)), failed[0])  # the host that says why
        return self._fail(failure_reason_from(culprit.base, codes[culprit.host]))

    def _watch(self, running: RunningJob) -> tuple[dict[str, int], str | None]:
        """Exit codes once every host ended, and why they were stopped (None: they ended by themselves).

        A stop request or MaxRuntimeInSeconds stops them: SIGTERM, the grace period, SIGKILL; a
        forced stop kills them at once.
        """
        deadline = time.monotonic() + self.spec.max_runtime_seconds
        outcome, grace = None, None
        while (codes := running.wait(timeout=0.2)) is None:
            if outcome is None and self.stop_requested:
                outcome = "Stopped"
            elif outcome is None and time.monotonic() >= deadline:
                outcome = "MaxRuntimeExceeded"
                self.note(f"MaxRuntimeInSeconds ({self.spec.max_runtime_seconds} s) exceeded; stopping the job.")
            wanted = 0.0 if self._force_stop.is_set() else self.stop_grace_seconds
            if outcome is not None and (grace is None or wanted < grace):
                self._enter_stopping()
                grace = wanted
                threading.Thread(target=running.stop, args=(grace,), daemon=True, name="stop").start()
        return codes, outcome

    def _upload(self, hosts: list[HostLayout], checkpoints: CheckpointSync | None, final: str) -> str:
        try:
            if checkpoints:
                checkpoints.stop()
                self.note(f"Synced checkpoints to {self.spec.checkpoint_uri} ({checkpoints.uploaded} upload(s)).")
            model_uri, output_uri = artifact_locations(self.spec.output_path, self.spec.name)
            started = time.monotonic()
            scratch = self.dir.root / "scratch"
            files = pack_and_store([MLPaths(h.base).model for h in hosts], model_uri, self.storage, scratch)
            self.result.model_artifacts = model_uri
            pack_and_store([MLPaths(h.base).output_data for h in hosts], output_uri, self.storage, scratch)
            self.result.output_artifacts = output_uri
            self.note(f"Packed {files} model file(s) into {model_uri} in {time.monotonic() - started:.1f} s.")
        except Exception as exc:  # noqa: BLE001 - an upload failure fails the job, with the reason
            self.note(traceback.format_exc())
            return self._fail(f"ClientError: Artifact upload failed: {exc}")
        return final
