"""What a training job is at any moment, as plain data: status, transitions, metrics, artifacts.

`JobResult.to_record()` is what the job store keeps (dataclasses.asdict, times as datetimes;
the store writes them as ISO 8601 text) and `JobResult.from_record()` reads it back;
`describe()` gives the DescribeTrainingJob members the state answers. Secondary statuses and
their messages follow what SageMaker reports:
Starting -> Downloading -> Training -> Uploading -> Completed | Failed | Stopped
(Stopping before Uploading when stopped, MaxRuntimeExceeded instead of Stopped when the
runtime limit ended the job).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone

from container.contract import FAILURE_REASON_LIMIT
from emulator.metrics import MetricValue

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


def now() -> datetime:
    return datetime.now(timezone.utc)


def _revive(cls, data: dict):
    """A dataclass from its asdict() form after a JSON round trip (ISO 8601 text back to datetimes)."""
    values = {}
    for f in fields(cls):
        if f.name in data:
            value = data[f.name]
            values[f.name] = datetime.fromisoformat(value) if "datetime" in f.type and isinstance(value, str) else value
    return cls(**values)


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

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

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

    def to_record(self) -> dict:
        return asdict(self)

    @classmethod
    def from_record(cls, data: dict) -> "JobResult":
        return _revive(cls, {**data, "transitions": [_revive(Transition, t) for t in data["transitions"]],
                             "final_metrics": [_revive(MetricValue, m) for m in data["final_metrics"]]})

    def describe(self) -> dict:
        """The DescribeTrainingJob members of this state (times as datetimes)."""
        seconds = self.training_seconds
        members = {
            "TrainingJobName": self.job_name, "TrainingJobArn": self.arn, "TrainingJobStatus": self.status,
            "SecondaryStatus": self.secondary_status,
            "SecondaryStatusTransitions": [t.to_api() for t in self.transitions],
            "CreationTime": self.creation_time, "LastModifiedTime": self.last_modified_time or self.creation_time,
            "FinalMetricDataList": [m.to_api() for m in self.final_metrics] or None,
            "FailureReason": self.failure_reason, "TrainingStartTime": self.training_start_time,
            "TrainingEndTime": self.training_end_time, "TrainingTimeInSeconds": seconds,
            "BillableTimeInSeconds": seconds,
            "ModelArtifacts": {"S3ModelArtifacts": self.model_artifacts} if self.model_artifacts else None,
        }
        return {k: v for k, v in members.items() if v is not None}
