"""The SageMaker operations of training jobs (their tags: emulator.api.tags_ops).

Requests arrive already checked against botocore's model (emulator.validation); responses are
plain dicts with datetimes, shaped as the model's output shapes (a test validates them). The
jobs are the job home's (emulator.jobs): those `smlocal train` runs are listed and described too.
"""
from __future__ import annotations

from emulator.api.paging import DEFAULT_LIST_RESULTS, decode_token, encode_token
from emulator.api.service import TrainingService
from emulator.api.tags_ops import parse_tags
from emulator.jobs import describe
from emulator.jobstate import TERMINAL
from emulator.spec import TRAINING_RULES
from emulator.store import StoredJob


def summary(stored: StoredJob) -> dict:
    state = stored.result
    item = {"TrainingJobName": stored.name, "TrainingJobArn": stored.arn, "CreationTime": state.creation_time,
            "LastModifiedTime": state.last_modified_time or state.creation_time,
            "TrainingJobStatus": state.status, "SecondaryStatus": state.secondary_status}
    if state.training_end_time is not None and state.status in TERMINAL:
        item["TrainingEndTime"] = state.training_end_time
    return item


class SageMakerOperations:
    service = "sagemaker"
    rules = TRAINING_RULES

    def __init__(self, jobs: TrainingService) -> None:
        self.jobs = jobs
        self.store = jobs.store
        self.operations = {
            "CreateTrainingJob": self.create_training_job,
            "DescribeTrainingJob": self.describe_training_job,
            "ListTrainingJobs": self.list_training_jobs,
            "StopTrainingJob": self.stop_training_job,
        }

    def create_training_job(self, params: dict) -> dict:
        tags = parse_tags(params.pop("Tags", None), "training job")
        return {"TrainingJobArn": self.jobs.create(params, tags)}

    def describe_training_job(self, params: dict) -> dict:
        return describe(self.jobs.job(params["TrainingJobName"]))

    def list_training_jobs(self, params: dict) -> dict:
        if params.get("WarmPoolStatusEquals") or params.get("TrainingPlanArnEquals"):
            return {"TrainingJobSummaries": []}  # no job here has a warm pool or a training plan
        limit = params.get("MaxResults", DEFAULT_LIST_RESULTS)
        offset = decode_token(params.get("NextToken"))
        self.jobs.jobs.settle_all()  # a job whose process died is Failed, not InProgress, in the list

        def seconds(key):
            return params[key].timestamp() if key in params else None

        found = self.store.list_jobs(
            name_contains=params.get("NameContains"), status=params.get("StatusEquals"),
            created_after=seconds("CreationTimeAfter"), created_before=seconds("CreationTimeBefore"),
            modified_after=seconds("LastModifiedTimeAfter"), modified_before=seconds("LastModifiedTimeBefore"),
            sort_by=params.get("SortBy", "CreationTime"), descending=params.get("SortOrder") == "Descending",
            offset=offset, limit=limit + 1)
        response = {"TrainingJobSummaries": [summary(job) for job in found[:limit]]}
        if len(found) > limit:
            response["NextToken"] = encode_token(offset + limit)
        return response

    def stop_training_job(self, params: dict) -> dict:
        self.jobs.stop(params["TrainingJobName"])
        return {}

