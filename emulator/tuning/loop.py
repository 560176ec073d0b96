"""The tuning loop: propose hyperparameters, run them as ordinary training jobs, read the objective.

One thread per tuning job, in the process that trains (the API server, or `smlocal tune`). Each
round it (1) feeds every running training job's new per-epoch objective values to the study's
pruner and stops the jobs it prunes (Hyperband, early stopping Auto), (2) tells the study what
each finished job scored, (3) decides whether the tuning job is done (budget, runtime, target
value, no improvement, stop request), and (4) launches new training jobs up to the parallel
limit. A training job is written to the store as a trial (its name and search values) before
it is created, so a loop restarted after a crash rebuilds the same study and creates a missing
job under its recorded name instead of a new one; jobs that were running when the server died
end Failed (emulator.jobs.settle) and count once, as such.
"""
from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Callable, Protocol

import optuna
from optuna.trial import TrialState

from emulator.jobstate import now
from emulator.store import JobStore, StoredJob
from emulator.tuning import records
from emulator.tuning.ranges import SearchSpace
from emulator.tuning.records import TuningState
from emulator.tuning.strategy import build_study, finished_trial, next_grid_point
from emulator.validation import RequestValidationError

log = logging.getLogger("smlocal.tuning")

POLL_SECONDS = 1.0
# Members of a HyperParameterTrainingJobDefinition that a CreateTrainingJob request takes as they are.
TRAINING_MEMBERS = ("AlgorithmSpecification", "RoleArn", "InputDataConfig", "VpcConfig", "OutputDataConfig",
                    "ResourceConfig", "StoppingCondition", "EnableNetworkIsolation",
                    "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining", "CheckpointConfig",
                    "RetryStrategy", "Environment")


class Trainer(Protocol):
    """What the loop needs of the training service (emulator.api.service.TrainingService)."""
    store: JobStore

    def create(self, request: dict, tags: list[tuple[str, str]] = ()) -> str: ...

    def stop(self, name: str) -> None: ...


def resource_config(definition: dict) -> dict | None:
    """The training jobs' ResourceConfig: as given, else from HyperParameterTuningResourceConfig (what
    the SDK sends), whose first InstanceConfigs entry stands for the list (one instance type here)."""
    if "ResourceConfig" in definition:
        return definition["ResourceConfig"]
    tuning = definition.get("HyperParameterTuningResourceConfig")
    if not tuning:
        return None
    chosen = (tuning.get("InstanceConfigs") or [tuning])[0]
    config = {k: chosen[k] for k in ("InstanceType", "InstanceCount", "VolumeSizeInGB") if k in chosen}
    if tuning.get("VolumeKmsKeyId"):
        config["VolumeKmsKeyId"] = tuning["VolumeKmsKeyId"]
    return config


def training_request(definition: dict, job_name: str, tuned: dict[str, str]) -> dict:
    request = {k: definition[k] for k in TRAINING_MEMBERS if k in definition}
    if resource_config(definition) is not None:
        request["ResourceConfig"] = resource_config(definition)
    request["TrainingJobName"] = job_name
    request["HyperParameters"] = {**(definition.get("StaticHyperParameters") or {}), **tuned}
    return request


def max_epochs(request: dict) -> int | None:
    """Hyperband's MaxResource, else the training definition's static `epochs` (the resource unit)."""
    config = request["HyperParameterTuningJobConfig"]
    hyperband = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
    if hyperband.get("MaxResource"):
        return int(hyperband["MaxResource"])
    epochs = (request["TrainingJobDefinition"].get("StaticHyperParameters") or {}).get("epochs")
    try:
        return int(str(epochs).strip('"')) if epochs is not None else None
    except ValueError:
        return None


@dataclass
class Running:
    trial: optuna.trial.Trial
    job: str
    reported: int = 0           # per-epoch values already given to the pruner
    pruned: bool = False


class TuningLoop:
    def __init__(self, trainer: Trainer, name: str, parallel_slots: int,
                 parents: Callable[[SearchSpace], list] = lambda space: []) -> None:
        self.trainer = trainer
        self.store = trainer.store
        self.name = name
        self.request, record = self.store.tuning_job(name)
        self.state = TuningState.from_record(record)
        config = self.request["HyperParameterTuningJobConfig"]
        self.config = config
        self.space = SearchSpace.from_request(config.get("ParameterRanges"))
        self.goal = records.objective(self.request)
        limits = config["ResourceLimits"]
        self.max_jobs = limits.get("MaxNumberOfTrainingJobs") or self.space.grid_size()
        self.parallel = max(1, min(limits["MaxParallelTrainingJobs"], parallel_slots))
        self.max_runtime = limits.get("MaxRuntimeInSeconds")
        self.criteria = config.get("TuningJobCompletionCriteria") or {}
        self.study = build_study(config["Strategy"], self.goal["Type"], self.space, config, config.get("RandomSeed"),
                                 max_epochs(self.request), parents(self.space))
        self.running: dict[str, Running] = {}
        self.done_launching = False
        self._stop_loop = threading.Event()
        self._lock = threading.Lock()  # the state, between this thread and request_stop()
        self._thread: threading.Thread | None = None
        self._best: float | None = None
        self._resume()

    # ---- rebuilding after a restart ---------------------------------------------------------------

    def _resume(self) -> None:
        for _, job_name, params in self.store.trials(self.name):
            stored = self.store.job(job_name)
            if stored is not None and not stored.result.active:
                self.study.add_trial(finished_trial(params, self.space.distributions, self._value(stored),
                                                    self._curve(job_name)))
                self._note_finished(self._value(stored))
                continue
            self.study.enqueue_trial(params)
            trial = self.study.ask(self.space.distributions)
            if stored is None:  # recorded, but the server died before creating it
                self._create(job_name, trial)
            self.running[job_name] = Running(trial, job_name)

    # ---- the thread ---------------------------------------------------------------------------------

    def start(self) -> "TuningLoop":
        self._thread = threading.Thread(target=self._run, name=f"tuning-{self.name}", daemon=True)
        self._thread.start()
        return self

    def halt(self, timeout: float = 5.0) -> None:
        """End the thread, leaving the tuning job as it is (a restarted server continues it)."""
        self._stop_loop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while not self._stop_loop.is_set():
                if not self.step():
                    return
                self._stop_loop.wait(POLL_SECONDS)
        except Exception as exc:  # noqa: BLE001 - the tuning job must end with a status and a reason
            log.exception("tuning job %s failed", self.name)
            self._stop_all()
            self._save_end("Failed", f"InternalServerError: {exc.__class__.__name__}: {exc}")

    def request_stop(self) -> None:
        """StopHyperParameterTuningJob: Stopping now; the loop stops the training jobs and ends Stopped."""
        with self._lock:
            self.state.status = "Stopping"
            self.state.last_modified_time = now()
            self._save()

    def step(self) -> bool:
        """One round; False once the tuning job has ended."""
        with self._lock:
            self._adopt_stop()
        for running in list(self.running.values()):
            self._follow(running)
        if self.state.status == "Stopping":
            self._stop_all()
            if not self.running:
                self._save_end("Stopped")
                return False
            return True
        reason = self._finished_reason()
        if reason is not None:
            self.done_launching = True
            if reason == "runtime":
                self._stop_all()
        if self.done_launching:
            if not self.running:
                self._finish()
                return False
            return True
        while len(self.running) < self.parallel and self._launched() < self.max_jobs:
            self._launch()
        return True

    # ---- following training jobs --------------------------------------------------------------------

    def _value(self, stored: StoredJob) -> float | None:
        return records.objective_value(stored, self.goal["MetricName"])

    def _curve(self, job: str) -> list[float]:
        return [p.value for p in self.store.metric_values(job, self.goal["MetricName"])]

    def _follow(self, running: Running) -> None:
        stored = self.store.job(running.job)
        curve = self._curve(running.job)
        for step, value in enumerate(curve[running.reported:], start=running.reported + 1):
            running.trial.report(value, step)
        running.reported = len(curve)
        if stored.result.active:
            if curve and not running.pruned and running.trial.should_prune():
                running.pruned = True
                log.info("tuning job %s: early stopping training job %s at epoch %d", self.name, running.job,
                         len(curve))
                self._stop_job(running.job)
            return
        value = self._value(stored)
        if value is None:
            self.study.tell(running.trial, state=TrialState.FAIL)
        else:
            self.study.tell(running.trial, value)
        self._note_finished(value)
        del self.running[running.job]
        with self._lock:
            self._save()  # NumberOfTrainingJobsObjectiveNotImproving

    def _note_finished(self, value: float | None) -> None:
        """BestObjectiveNotImproving: how many jobs in a row (in the order they ended) did not improve."""
        if value is None:
            return
        if self._best is None or records.better(value, self._best, self.goal["Type"]):
            self._best, self.state.not_improving = value, 0
        else:
            self.state.not_improving += 1

    def _stop_job(self, job: str) -> None:
        try:
            self.trainer.stop(job)
        except RequestValidationError:
            pass  # it ended meanwhile

    def _stop_all(self) -> None:
        for running in self.running.values():
            stored = self.store.job(running.job)
            if stored is not None and stored.status == "InProgress":
                self._stop_job(running.job)

    # ---- deciding and launching -----------------------------------------------------------------

    def _launched(self) -> int:
        return len(self.store.trials(self.name))

    def _finished_reason(self) -> str | None:
        if self.max_runtime and (now() - self.state.creation_time).total_seconds() >= self.max_runtime:
            return "runtime"
        target = self.criteria.get("TargetObjectiveMetricValue")
        if target is not None and self._best is not None and not records.better(target, self._best,
                                                                                  self.goal["Type"]):
            return "target"
        patience = (self.criteria.get("BestObjectiveNotImproving") or {}).get("MaxNumberOfTrainingJobsNotImproving")
        if patience and self.state.not_improving >= patience:
            return "not improving"
        if self._launched() >= self.max_jobs:
            return "budget"
        if self.config["Strategy"] == "Grid" and self._launched() >= self.space.grid_size():
            return "budget"
        return None

    def _launch(self) -> None:
        if self.config["Strategy"] == "Grid":
            launched = [params for _, _, params in self.store.trials(self.name)]
            self.study.enqueue_trial(next_grid_point(self.space, launched))
        trial = self.study.ask(self.space.distributions)
        number = self._launched() + 1
        job_name = f"{self.name}-{number:03d}-{uuid.uuid4().hex[:8]}"
        self.store.add_trial(self.name, number, job_name, trial.params)
        self.running[job_name] = Running(trial, job_name)
        self._create(job_name, trial)

    def _create(self, job_name: str, trial: optuna.trial.Trial) -> None:
        definition = self.request["TrainingJobDefinition"]
        request = training_request(definition, job_name, self.space.hyperparameters(trial.params))
        try:
            self.trainer.create(request, self.store.tags(self.state.arn))  # the tuning job's tags
        except RequestValidationError as exc:
            raise RuntimeError(f"training job {job_name} could not be created: {exc.message}") from None
        self.store.update_extra(job_name, TuningJobArn=self.state.arn)

    # ---- the tuning job's record ---------------------------------------------------------------------

    def _adopt_stop(self) -> None:
        """A StopHyperParameterTuningJob another process (the API, for a `smlocal tune` job) recorded."""
        if self.state.status == "InProgress" and self.store.tuning_job(self.name)[1]["status"] == "Stopping":
            self.state.status = "Stopping"

    def _save(self) -> None:
        self._adopt_stop()  # never write InProgress over a stop recorded meanwhile
        self.store.save_tuning_state(self.name, self.state.to_record())

    def _finish(self) -> None:
        summaries = [records.training_summary(s, self.name, self.request, self.space)
                     for s in records.training_jobs(self.store, self.name)]
        if summaries and not any(s["ObjectiveStatus"] == "Succeeded" for s in summaries):
            first = next((s.get("FailureReason") for s in summaries if s.get("FailureReason")), "no objective value")
            self._save_end("Failed", f"All training jobs failed or reported no value of the objective metric "
                                     f"{self.goal['MetricName']}; the first: {first}")
        else:
            self._save_end("Completed")

    def _save_end(self, status: str, reason: str | None = None) -> None:
        with self._lock:
            self.state.end(status, reason)
            self._save()
        log.info("tuning job %s: %s%s", self.name, status, f" ({reason})" if reason else "")
