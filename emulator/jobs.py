"""The training jobs of a job home, for every front end: `smlocal` and the API ask them here.

    jobs = Jobs(home)
    job = jobs.submit(spec, placement)     # a TrainingJob; job.run() trains
    jobs.get(name)   jobs.stop(name)   jobs.delete(name)   describe(jobs.get(name))

A job lives in two places: its record in the job store (request, state, logs, metrics) and its
folder jobs/<name>/ (owner lock, stop marker, job.log, the hosts' /opt/ml trees). The process
that runs a job holds its owner lock, so a job the store calls active whose lock nobody holds
was abandoned (its process died: kill -9, a crash, a killed API server): the next look at it,
from whichever front end, ends what it left running and marks it Failed (`settle`).
"""
from __future__ import annotations

from contextlib import contextmanager
from functools import cached_property
from typing import Iterator

from emulator.jobhome import JobDir, JobHome
from emulator.jobstate import now
from emulator.lifecycle import EMULATOR_LOG_SOURCE, NOTE_PREFIX, TrainingJob, artifact_locations, region_from_env
from emulator.runners.leftovers import end_leftovers
from emulator.runners.placement import Placement
from emulator.spec import DEFAULT_ACCOUNT_ID, RequestValidationError, TrainingJobSpec, validate_job_name
from emulator.staging import remove_tree
from emulator.storage import is_s3, local_path
from emulator.store import JobStore, StoredJob
from emulator.validation import operation_model

ABANDONED_REASON = ("InternalServerError: The process that ran this job (pid {pid}) ended while the job was "
                    "{status} ({secondary}) without finishing it (killed?); it was marked Failed at {when}. "
                    "Artifacts packed before that are kept.")
# Describe always carries these flags, false unless the request set them.
DEFAULT_FLAGS = ("EnableNetworkIsolation", "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining")


def not_found() -> RequestValidationError:
    # What SageMaker answers for an unknown training job (not the modeled ResourceNotFound).
    return RequestValidationError("Requested resource not found.")


@contextmanager
def _unowned(job_dir: JobDir) -> Iterator[bool]:
    """True while no live process runs the job: its owner lock is ours meanwhile (or its folder is
    gone, and nothing can run it)."""
    if not job_dir.root.is_dir():
        yield True
        return
    owner = job_dir.claim()
    try:
        yield owner is not None
    finally:
        if owner is not None:
            owner.release()


def model_artifacts_uri(stored: StoredJob) -> str:
    return artifact_locations(stored.request["OutputDataConfig"]["S3OutputPath"], stored.name)[0]


def describe(stored: StoredJob) -> dict:
    """DescribeTrainingJob's answer: the request's members, the state's, and what the model requires."""
    output_members = operation_model("sagemaker", "DescribeTrainingJob").output_shape.members
    response = {k: v for k, v in stored.request.items() if k in output_members}
    response.update(stored.result.describe())
    # Required by the model; the SDK's `model_data` reads it. Until the upload it names where
    # the artifact will be.
    response.setdefault("ModelArtifacts", {"S3ModelArtifacts": model_artifacts_uri(stored)})
    algorithm = dict(response.get("AlgorithmSpecification") or {})
    if not algorithm.get("MetricDefinitions") and stored.extra.get("MetricDefinitions"):
        # As for SageMaker's built-ins: the definitions that applied, which the SDK's
        # TrainingJobAnalytics uses to ask CloudWatch for the metrics.
        algorithm["MetricDefinitions"] = stored.extra["MetricDefinitions"]
    response["AlgorithmSpecification"] = algorithm
    if stored.extra.get("TuningJobArn"):  # a training job a tuning job launched (emulator.tuning)
        response["TuningJobArn"] = stored.extra["TuningJobArn"]
    for flag in DEFAULT_FLAGS:
        response.setdefault(flag, False)
    return response


class Jobs:
    def __init__(self, home: JobHome, store: JobStore | None = None, *, region: str | None = None,
                 account: str = DEFAULT_ACCOUNT_ID) -> None:
        self.home = home
        if store is not None:
            self.store = store
        self.region = region or region_from_env()
        self.account = account

    @cached_property
    def store(self) -> JobStore:
        """The home's store, opened on first use: a refused name or request touches nothing."""
        return JobStore.open(self.home)

    def submit(self, spec: TrainingJobSpec, placement: Placement, **options) -> TrainingJob:
        """TrainingJob.submit into this home and store; the placement's note opens the job's log."""
        job = TrainingJob.submit(spec, self.home, placement, store=self.store, region=self.region,
                                 account=self.account, **options)
        job.note(placement.note)
        return job

    def get(self, name: str) -> StoredJob:
        """The job, named as DescribeTrainingJob checks names, after `settle`."""
        validate_job_name(name)
        stored = self.store.job(name)
        if stored is None:
            raise not_found()
        return self.settle(stored)

    def stop(self, name: str) -> StoredJob:
        """Ask the job's process to stop it (through the stop marker, so any process can ask)."""
        stored = self.get(name)
        if not stored.result.active:
            raise RequestValidationError(f"The request was rejected because the training job is in status "
                                         f"{stored.status}.")
        self.home.job(stored.name).stop_marker.touch()
        return stored

    def delete(self, name: str) -> JobDir:
        """Forget a finished job: its record and its folder (its artifacts under the output path stay)."""
        stored = self.get(name)
        job_dir = self.home.job(stored.name)
        with _unowned(job_dir) as free:
            if stored.result.active or not free:
                state = stored.status if stored.result.active else "in use"
                raise RequestValidationError(f"The training job {name} is {state}; stop it first.",
                                             code="ResourceInUse")
            self.store.delete_job(stored.name)
            remove_tree(job_dir.root)
        return job_dir

    def settle_all(self) -> list[str]:
        """`settle` every active job; returns the names of those now marked Failed."""
        return [s.name for s in self.store.active_jobs() if not self.settle(s).result.active]

    def settle(self, stored: StoredJob) -> StoredJob:
        """The job, marked Failed first if it is active but its process is gone."""
        if not stored.result.active:
            return stored
        job_dir = self.home.job(stored.name)
        with _unowned(job_dir) as free:
            if not free:
                return stored  # its process is alive
            stored = self.store.job(stored.name)  # again, now that nobody else can change it
            result = stored.result
            if not result.active:
                return stored
            end_leftovers(result.job_name, result.processes)
            at = now()
            reason = ABANDONED_REASON.format(pid=result.owner_pid or "unknown", status=result.status,
                                             secondary=result.secondary_status, when=at.isoformat(timespec="seconds"))
            result.end_failed(reason, at)
            packed = model_artifacts_uri(stored)
            if result.model_artifacts is None and not is_s3(packed) and local_path(packed).is_file():
                result.model_artifacts = packed  # a local output path; S3 would cost a request per look
            self.store.save_state(stored.name, result.to_record())
            self.store.append_log(stored.name, "algo-1", NOTE_PREFIX + reason)
            if job_dir.root.is_dir():
                job_dir.append_log(EMULATOR_LOG_SOURCE, reason)
            return self.store.job(stored.name)

    def busy_hosts(self) -> dict[str, int]:
        """Hosts of the jobs a live process runs past Starting (job name -> InstanceCount).

        A job still Starting may be waiting for a slot of the API server: it runs nothing yet.
        """
        busy = {}
        for stored in self.store.active_jobs():
            if stored.state["secondary_status"] == "Starting":
                continue
            with _unowned(self.home.job(stored.name)) as free:
                if not free:
                    busy[stored.name] = stored.request["ResourceConfig"]["InstanceCount"]
        return busy
