"""One training job from submission to its final status, the way SageMaker runs it.

    job = TrainingJob.submit(spec, home, runner)   # validates the data, creates jobs/<name>/
    result = job.run()                             # blocks; job.stop() from any thread

Secondary statuses and their messages follow what SageMaker reports:
Starting -> Downloading -> Training -> Uploading -> Completed | Failed | Stopped
(Stopping before Uploading when stopped, MaxRuntimeExceeded instead of Stopped when the
runtime limit ended the job). Artifacts are packed in every case, also after a failure or
a stop. `JobResult` is plain data: the CLI prints it, job.json stores it, an API can
serve DescribeTrainingJob from it.

The process running a job holds the job's owner lock from submission to its final status. If
that process dies without finishing (kill -9, a crash), the next look at the job
(`fail_if_abandoned`, called by every `smlocal` command that reads a job) ends what is left of
it and marks it Failed with the reason.
"""
from __future__ import annotations

import json
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from emulator.channels import ChannelSource, resolve_channels
from emulator.checkpoints import CheckpointSync
from emulator.configfiles import write_config_files
from emulator.instance_types import host_limit
from emulator.jobhome import JobDir, JobHome, OwnerLock
from emulator.metrics import MetricCollector, MetricValue, definitions_for
from emulator.packing import pack_and_store
from emulator.pipe import prepare_fifos, start_feeders
from emulator.runners.base import HostLayout, RunRequest, Runner, started_processes
from emulator.runners.leftovers import end_leftovers
from emulator.spec import (
    DEFAULT_ACCOUNT_ID, DEFAULT_REGION, RequestValidationError, TrainingJobSpec, path_segment, training_job_arn,
)
from emulator.staging import stage_channels
from emulator.storage import Storage, StorageError, is_s3, join, local_path

FAILURE_REASON_LIMIT = 1024
DEFAULT_STOP_GRACE_SECONDS = 120.0
EMULATOR_LOG_SOURCE = "smlocal"

MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Stopping": "Stopping the training job",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job stopped because it exceeded MaxRuntimeInSeconds",
}
STATUS_OF = {"Completed": "Completed", "Failed": "Failed", "Stopped": "Stopped",
             "MaxRuntimeExceeded": "Stopped", "Stopping": "Stopping"}
TERMINAL = ("Completed", "Failed", "Stopped")
ACTIVE = ("InProgress", "Stopping")
ABANDONED_REASON = ("InternalServerError: The process that ran this job (pid {pid}) ended while the job was "
                    "{status} ({secondary}) without finishing it (killed?); it was marked Failed at {when}. "
                    "Artifacts packed before that are kept.")


def now() -> datetime:
    return datetime.now(timezone.utc)


def region_from_env() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


@dataclass
class Transition:
    status: str
    start_time: datetime
    message: str
    end_time: datetime | None = None

    def to_api(self) -> dict:
        item = {"Status": self.status, "StartTime": self.start_time, "StatusMessage": self.message}
        if self.end_time is not None:
            item["EndTime"] = self.end_time
        return item


@dataclass
class JobResult:
    job_name: str
    arn: str
    creation_time: datetime
    status: str = "InProgress"
    secondary_status: str = "Starting"
    transitions: list[Transition] = field(default_factory=list)
    failure_reason: str | None = None
    final_metrics: list[MetricValue] = field(default_factory=list)
    model_artifacts: str | None = None
    output_artifacts: str | None = None
    training_start_time: datetime | None = None
    training_end_time: datetime | None = None
    last_modified_time: datetime | None = None
    exit_codes: dict[str, int] = field(default_factory=dict)
    owner_pid: int | None = None     # the process that runs the job
    processes: dict = field(default_factory=dict)  # what the runner started: {"pids": ..., "containers": ...}

    @property
    def training_seconds(self) -> int | None:
        if self.training_start_time is None or self.training_end_time is None:
            return None
        return max(1, round((self.training_end_time - self.training_start_time).total_seconds()))

    def end_failed(self, reason: str, at: datetime) -> None:
        """End a job that can no longer end by itself (its process is gone): Failed, with `reason`
        unless it had failed for a reason of its own already."""
        if self.transitions and self.transitions[-1].end_time is None:
            self.transitions[-1].end_time = at
        self.transitions.append(Transition("Failed", at, MESSAGES["Failed"], at))
        self.status = self.secondary_status = "Failed"
        self.failure_reason = self.failure_reason or reason[:FAILURE_REASON_LIMIT]
        self.training_end_time = self.training_end_time or at
        self.last_modified_time = at

    @property
    def succeeded(self) -> bool:
        return self.status in ("Completed", "Stopped")

    def to_dict(self) -> dict:
        """DescribeTrainingJob-style keys (times as datetimes; json.dumps(default=str) prints them)."""
        data = {
            "TrainingJobName": self.job_name,
            "TrainingJobArn": self.arn,
            "TrainingJobStatus": self.status,
            "SecondaryStatus": self.secondary_status,
            "SecondaryStatusTransitions": [t.to_api() for t in self.transitions],
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time or self.creation_time,
            "FinalMetricDataList": [m.to_api() for m in self.final_metrics],
        }
        optional = {
            "FailureReason": self.failure_reason,
            "TrainingStartTime": self.training_start_time,
            "TrainingEndTime": self.training_end_time,
            "TrainingTimeInSeconds": self.training_seconds,
            "BillableTimeInSeconds": self.training_seconds,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        if self.model_artifacts:
            data["ModelArtifacts"] = {"S3ModelArtifacts": self.model_artifacts}
        # Not part of DescribeTrainingJob: what only the emulator knows.
        data["Emulator"] = {"OutputArtifacts": self.output_artifacts, "ExitCodes": dict(self.exit_codes),
                            "OwnerPid": self.owner_pid, "Processes": dict(self.processes)}
        return data


    @classmethod
    def from_dict(cls, data: dict) -> "JobResult":
        """Inverse of to_dict, also after a JSON round trip (times as ISO 8601 text)."""
        def when(value):
            return datetime.fromisoformat(value) if isinstance(value, str) else value

        extra = data.get("Emulator") or {}
        return cls(
            job_name=data["TrainingJobName"], arn=data["TrainingJobArn"], creation_time=when(data["CreationTime"]),
            status=data["TrainingJobStatus"], secondary_status=data["SecondaryStatus"],
            transitions=[Transition(t["Status"], when(t["StartTime"]), t["StatusMessage"], when(t.get("EndTime")))
                         for t in data.get("SecondaryStatusTransitions", [])],
            failure_reason=data.get("FailureReason"),
            final_metrics=[MetricValue(m["MetricName"], m["Value"], when(m["Timestamp"]))
                           for m in data.get("FinalMetricDataList", [])],
            model_artifacts=(data.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
            output_artifacts=extra.get("OutputArtifacts"),
            training_start_time=when(data.get("TrainingStartTime")),
            training_end_time=when(data.get("TrainingEndTime")),
            last_modified_time=when(data.get("LastModifiedTime")),
            exit_codes=dict(extra.get("ExitCodes") or {}),
            owner_pid=extra.get("OwnerPid"),
            processes=dict(extra.get("Processes") or {}),
        )


def artifact_locations(spec: TrainingJobSpec) -> tuple[str, str]:
    """Where the job's model.tar.gz and output.tar.gz go: <S3OutputPath>/<job>/output/."""
    base = join(spec.output_path, path_segment(spec.name, "Training job name"), "output")
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


def failure_reason_from(host_base: Path, code: int) -> str:
    """FailureReason from the host's output/failure: its first 1024 characters."""
    path = host_base / "output" / "failure"
    text = path.read_text(errors="replace").strip() if path.is_file() else ""
    if not text:
        return f"AlgorithmError: , exit code: {code}"
    if not text.startswith(("ClientError", "AlgorithmError")):
        text = f"AlgorithmError: {text}"
    return text[:FAILURE_REASON_LIMIT]


class JobStopped(Exception):
    """Raised between phases when a stop was requested before the algorithm started."""


class TrainingJob:
    def __init__(self, spec: TrainingJobSpec, job_dir: JobDir, runner: Runner, storage: Storage,
                 sources: dict[str, ChannelSource], arn: str, owner: OwnerLock | None = None, *,
                 stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS,
                 checkpoint_interval_seconds: float = 2.0,
                 on_transition: Callable[[JobResult, Transition], None] | None = None,
                 on_log: Callable[[str, str], None] | None = None,
                 on_metric: Callable[[MetricValue], None] | None = None) -> None:
        self.spec = spec
        self.dir = job_dir
        self.runner = runner
        self.storage = storage
        self.sources = sources
        self.stop_grace_seconds = stop_grace_seconds
        self.checkpoint_interval_seconds = checkpoint_interval_seconds
        self.on_transition = on_transition
        self.on_log = on_log
        self.result = JobResult(job_name=spec.name, arn=arn, creation_time=now(), owner_pid=os.getpid())
        self._owner = owner
        self.metrics = MetricCollector(definitions_for(spec.algorithm, spec.metric_definitions), on_metric)
        self._stop_requested = threading.Event()
        self._force_stop = threading.Event()
        self._log_lock = threading.Lock()
        self._state_lock = threading.RLock()

    # ----- submission -------------------------------------------------------------------------

    @classmethod
    def submit(cls, spec: TrainingJobSpec, home: JobHome, runner: Runner, storage: Storage | None = None, *,
               region: str | None = None, account: str = DEFAULT_ACCOUNT_ID, starting_message: str | None = None,
               max_hosts: int | None = None, busy_hosts: dict[str, int] | None = None, **options) -> "TrainingJob":
        """Check the job's data and claim its directory; raises RequestValidationError, creating nothing.

        `starting_message`: what the first (Starting) status says until `run()` begins, e.g. that
        the job waits for a free slot; `run()` then switches to "Preparing the instances for training".
        `max_hosts`: the most hosts this machine runs at once (default `host_limit()`); `busy_hosts`:
        hosts of other jobs that count against it (see `hosts_in_use`).
        """
        check_host_limit(spec, max_hosts, busy_hosts)
        storage = storage or Storage()
        region = region or region_from_env()
        arn = training_job_arn(spec.name, region, account)
        if home.job(spec.name).root.exists():
            raise RequestValidationError(
                "Training job names must be unique within an AWS account and region, and a training job "
                f"with this name already exists ({arn})", code="ResourceInUse")
        for what, uri in (("OutputDataConfig.S3OutputPath", spec.output_path),
                          ("CheckpointConfig.S3Uri", spec.checkpoint_uri)):
            try:
                if uri is not None:
                    storage.check_destination(uri)
            except StorageError as exc:
                raise RequestValidationError(f"{what} '{uri}' cannot be used: {exc}") from exc
        sources = resolve_channels(spec, storage, region)
        job_dir = home.create_job_dir(spec.name, arn)
        job = cls(spec, job_dir, runner, storage, sources, arn, job_dir.claim(), **options)
        job_dir.write_json(job_dir.request_file, spec.request)
        job._transition("Starting", starting_message)
        return job

    # ----- state --------------------------------------------------------------------------------

    def _save(self) -> None:
        self.dir.write_json(self.dir.state_file, self.result.to_dict())

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
        at = now()
        with self._log_lock:
            with open(self.dir.log_file, "a", encoding="utf-8") as log:
                log.write(f"{at.isoformat(timespec='milliseconds')} [{host}] {line}\n")
        return at

    def _log(self, host: str, line: str) -> None:
        """A line of the job's log (an algorithm host's output or an emulator note).

        Status transitions are written to job.log only: they reach callers through on_transition.
        """
        at = self._write_log(host, line)
        self.metrics.feed(line, at)
        if self.on_log:
            self.on_log(host, line)

    def note(self, message: str) -> None:
        self._log(EMULATOR_LOG_SOURCE, message)

    def stop(self, force: bool = False) -> None:
        """Request a stop (thread-safe): SIGTERM, grace period, kill; the job ends Stopped with artifacts.

        `force` skips what is left of the grace period and kills the algorithm now.
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
        if final in ("Stopped", "MaxRuntimeExceeded") and self.result.secondary_status != "Stopping":
            self._transition("Stopping")
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
        sees_host_paths = getattr(self.runner, "sees_host_paths", False)
        for host in hosts:
            for sub in ("input/data", "model", "output/data"):
                (host.base / sub).mkdir(parents=True, exist_ok=True)
            checkpoint_path = None
            if host.checkpoint_dir is not None:
                host.checkpoint_dir.mkdir(parents=True, exist_ok=True)
                checkpoint_path = str(host.checkpoint_dir) if sees_host_paths else self.spec.checkpoint_local_path
            write_config_files(self.spec, host.host, host.base, checkpoint_path)

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
        pairs = [(h.host, h.base) for h in hosts]
        start_feeders(self.sources, pairs, self.storage, feeders_stop, self.note)
        if checkpoints:
            checkpoints.start()
        environment = {**self.spec.environment, "TRAINING_JOB_NAME": self.spec.name,
                       "TRAINING_JOB_ARN": self.result.arn}
        request = RunRequest(job_name=self.spec.name, algorithm=self.spec.algorithm,
                             image=self.spec.training_image,
                             instance_type=self.spec.instance_type, hosts=hosts, environment=environment,
                             checkpoint_local_path=self.spec.checkpoint_local_path)
        deadline = time.monotonic() + self.spec.max_runtime_seconds
        outcome = None
        killed = False
        try:
            try:
                running = self.runner.start(request, self._log)
            except Exception as exc:  # noqa: BLE001 - no engine, no image, no GPU: the job cannot start
                self.note(traceback.format_exc())
                return self._fail(f"ClientError: The training image could not be started: {exc}")
            self._record_processes(running)
            while True:
                codes = running.wait(timeout=0.2)
                if codes is not None:
                    break
                if outcome is None and self.stop_requested:
                    outcome = "Stopped"
                elif outcome is None and time.monotonic() >= deadline:
                    outcome = "MaxRuntimeExceeded"
                    self.note(f"MaxRuntimeInSeconds ({self.spec.max_runtime_seconds} s) exceeded; stopping the job.")
                if outcome is not None and self.result.secondary_status != "Stopping":
                    self._transition("Stopping")
                    threading.Thread(target=running.stop, args=(self.stop_grace_seconds,), daemon=True,
                                     name="stop").start()
                if outcome is not None and self._force_stop.is_set() and not killed:
                    killed = True
                    threading.Thread(target=running.stop, args=(0,), daemon=True, name="kill").start()
        finally:
            feeders_stop.set()
        self.result.exit_codes = codes
        if outcome is not None:
            return outcome
        failed = [h for h in hosts if codes.get(h.host, 0) != 0]
        if not failed:
            return "Completed"
        with_file = [h for h in failed if (h.base / "output" / "failure").is_file()
                     and (h.base / "output" / "failure").read_text(errors="replace").strip()]
        culprit = (with_file or failed)[0]
        return self._fail(failure_reason_from(culprit.base, codes[culprit.host]))

    def _record_processes(self, running) -> None:
        with self._state_lock:
            self.result.processes = started_processes(running)
            self._save()

    def _upload(self, hosts: list[HostLayout], checkpoints: CheckpointSync | None, final: str) -> str:
        try:
            if checkpoints:
                checkpoints.stop()
                self.note(f"Synced checkpoints to {self.spec.checkpoint_uri} ({checkpoints.uploaded} upload(s)).")
            model_uri, output_uri = artifact_locations(self.spec)
            started = time.monotonic()
            scratch = self.dir.root / "scratch"
            files = pack_and_store([h.base / "model" for h in hosts], model_uri, self.storage, scratch)
            self.result.model_artifacts = model_uri
            pack_and_store([h.base / "output" / "data" for h in hosts], output_uri, self.storage, scratch)
            self.result.output_artifacts = output_uri
            self.note(f"Packed {files} model file(s) into {model_uri} in {time.monotonic() - started:.1f} s.")
        except Exception as exc:  # noqa: BLE001 - an upload failure fails the job, with the reason
            self.note(traceback.format_exc())
            return self._fail(f"ClientError: Artifact upload failed: {exc}")
        return final


def fail_if_abandoned(job_dir: JobDir) -> bool:
    """Mark the job Failed if job.json says it runs but no process holds its owner lock.

    Ends what its processes left running, keeps a model.tar.gz that was already packed (a local
    output path is looked at; an S3 one would need the network for every `smlocal list`), and
    says so in job.log. Returns True if the job was abandoned and is now Failed.
    """
    if job_dir.read_state()["TrainingJobStatus"] not in ACTIVE:
        return False
    owner = job_dir.claim()
    if owner is None:
        return False  # its process is alive
    try:
        state = job_dir.read_state()  # again, now that nobody else can change it
        if state["TrainingJobStatus"] not in ACTIVE:
            return False
        result = JobResult.from_dict(state)
        end_leftovers(result.job_name, result.processes)
        at = now()
        reason = ABANDONED_REASON.format(pid=result.owner_pid or "unknown", status=result.status,
                                         secondary=result.secondary_status, when=at.isoformat(timespec="seconds"))
        result.end_failed(reason, at)
        if result.model_artifacts is None and job_dir.request_file.is_file():
            result.model_artifacts = _packed_model(job_dir)
        job_dir.write_json(job_dir.state_file, result.to_dict())
        with open(job_dir.log_file, "a", encoding="utf-8") as log:
            log.write(f"{at.isoformat(timespec='milliseconds')} [{EMULATOR_LOG_SOURCE}] {reason}\n")
        return True
    finally:
        owner.release()


def _packed_model(job_dir: JobDir) -> str | None:
    """The job's model.tar.gz if it reached a local output path before its process died."""
    try:
        spec = TrainingJobSpec.from_request(json.loads(job_dir.request_file.read_text()))
    except (ValueError, OSError):  # a request.json that is not one (json's errors are ValueErrors)
        return None
    model_uri, _ = artifact_locations(spec)
    return model_uri if not is_s3(model_uri) and local_path(model_uri).is_file() else None


def hosts_in_use(home: JobHome) -> dict[str, int]:
    """Hosts of the jobs in `home` that a live process runs past Starting (job name -> InstanceCount).

    A job still Starting may be waiting for a slot of the API server: it runs nothing yet.
    """
    busy = {}
    for job_dir in home.job_dirs():
        try:
            state = job_dir.read_state()
            if state["TrainingJobStatus"] not in ACTIVE or state["SecondaryStatus"] == "Starting":
                continue
            count = json.loads(job_dir.request_file.read_text())["ResourceConfig"]["InstanceCount"]
        except (ValueError, OSError, KeyError, TypeError):
            continue  # unreadable: `smlocal list` reports it
        owner = job_dir.claim()
        if owner is None:
            busy[job_dir.name] = int(count)
        else:
            owner.release()
    return busy
