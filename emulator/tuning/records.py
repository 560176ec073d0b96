"""A tuning job's record (state in the store) and the answers built from it and its training jobs.

Counters, the best job and the training-job summaries are computed from the training jobs'
own records every time they are asked for, never kept as counts, so a job is counted exactly
once however often the server restarts.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from emulator.jobstate import ACTIVE, now
from emulator.store import JobStore, StoredJob
from emulator.tuning.ranges import SearchSpace

FAILURE_REASON_LIMIT = 1024


def tuning_job_arn(name: str, region: str, account: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:hyper-parameter-tuning-job/{name.lower()}"


@dataclass
class TuningState:
    name: str
    arn: str
    status: str = "InProgress"          # InProgress | Stopping | Completed | Failed | Stopped
    creation_time: datetime = field(default_factory=now)
    last_modified_time: datetime = field(default_factory=now)
    end_time: datetime | None = None
    failure_reason: str | None = None
    not_improving: int = 0              # TuningJobCompletionDetails.NumberOfTrainingJobsObjectiveNotImproving
    owner_pid: int = field(default_factory=os.getpid)  # the process whose loop runs it

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def owner_alive(self) -> bool:
        """Whether another live process runs this tuning job's loop (`smlocal tune` next to the API)."""
        if self.owner_pid == os.getpid():
            return False
        try:
            os.kill(self.owner_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:  # a killed process nobody reaped (a container's init may not) is a zombie: dead
            return Path(f"/proc/{self.owner_pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return True

    def to_record(self) -> dict:
        record = asdict(self)
        for key in ("creation_time", "last_modified_time", "end_time"):
            record[key] = record[key].isoformat() if record[key] else None
        return record

    @classmethod
    def from_record(cls, record: dict) -> "TuningState":
        values = dict(record)
        for key in ("creation_time", "last_modified_time", "end_time"):
            values[key] = datetime.fromisoformat(values[key]) if values.get(key) else None
        return cls(**values)

    def end(self, status: str, reason: str | None = None) -> None:
        self.status, self.end_time = status, now()
        self.last_modified_time = self.end_time
        if reason:
            self.failure_reason = reason[:FAILURE_REASON_LIMIT]


def objective(request: dict) -> dict:
    return request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]


def objective_value(stored: StoredJob, metric: str) -> float | None:
    """The training job's final objective value (the last value the metric's regex captured)."""
    for item in stored.state.get("final_metrics", []):
        if item["name"] == metric:
            return float(item["value"])
    return None


def better(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "Maximize" else a < b


def training_summary(stored: StoredJob, tuning_name: str, request: dict, space: SearchSpace) -> dict:
    goal = objective(request)
    state = stored.result
    hyperparameters = stored.request.get("HyperParameters", {})
    summary = {"TrainingJobName": stored.name, "TrainingJobArn": stored.arn, "TuningJobName": tuning_name,
               "CreationTime": state.creation_time, "TrainingJobStatus": state.status,
               "TunedHyperParameters": {n: hyperparameters[n] for n in space.names if n in hyperparameters}}
    if state.training_start_time:
        summary["TrainingStartTime"] = state.training_start_time
    if state.training_end_time and not state.active:
        summary["TrainingEndTime"] = state.training_end_time
    if state.failure_reason:
        summary["FailureReason"] = state.failure_reason
    value = objective_value(stored, goal["MetricName"])
    if value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {"Type": goal["Type"],
                                                                  "MetricName": goal["MetricName"], "Value": value}
    summary["ObjectiveStatus"] = ("Succeeded" if value is not None else "Pending" if state.active else "Failed")
    return summary


def training_jobs(store: JobStore, tuning_name: str) -> list[StoredJob]:
    """The tuning job's training jobs that exist (a trial whose job was never created has none)."""
    found = []
    for _, name, _ in store.trials(tuning_name):
        stored = store.job(name)
        if stored is not None:
            found.append(stored)
    return found


def counters(summaries: list[dict]) -> tuple[dict, dict]:
    """TrainingJobStatusCounters, ObjectiveStatusCounters."""
    status = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
    goal = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    for summary in summaries:
        job_status = summary["TrainingJobStatus"]
        status[{"Failed": "NonRetryableError", "Stopping": "InProgress"}.get(job_status, job_status)] += 1
        goal[summary["ObjectiveStatus"]] += 1
    return status, goal


def best(summaries: list[dict], direction: str) -> dict | None:
    scored = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
    chosen = None
    for summary in scored:  # in creation order: of equal values the first one is the best
        value = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        if chosen is None or better(value, chosen["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
                                    direction):
            chosen = summary
    return chosen
