"""The SageMaker operations: training jobs and their tags.

Requests arrive already checked against botocore's model (emulator.validation); responses are
plain dicts with datetimes, shaped as the model's output shapes (a test validates them). The
jobs are the job home's (emulator.jobs): those `smlocal train` runs are listed and described too.
"""
from __future__ import annotations

import base64
import binascii
import json

from emulator.api.errors import ApiError
from emulator.api.service import TrainingService
from emulator.jobs import describe, not_found
from emulator.jobstate import TERMINAL
from emulator.spec import TRAINING_RULES
from emulator.store import StoredJob

MAX_TAGS = 50
DEFAULT_LIST_RESULTS = 10


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
        if isinstance(offset, int) and offset >= 0:
            return offset
    except (binascii.Error, ValueError, KeyError, TypeError):
        pass
    raise ApiError("ValidationException", "The NextToken is not valid: pass the NextToken of the previous response "
                                          "unchanged.")


def summary(stored: StoredJob) -> dict:
    state = stored.result
    item = {"TrainingJobName": stored.name, "TrainingJobArn": stored.arn, "CreationTime": state.creation_time,
            "LastModifiedTime": state.last_modified_time or state.creation_time,
            "TrainingJobStatus": state.status, "SecondaryStatus": state.secondary_status}
    if state.training_end_time is not None and state.status in TERMINAL:
        item["TrainingEndTime"] = state.training_end_time
    return item


def _tags(items: list[dict] | None) -> list[tuple[str, str]]:
    tags = [(t["Key"], t.get("Value", "")) for t in items or []]
    for key, _ in tags:
        if key.lower().startswith("aws:"):
            raise ApiError("ValidationException", f"Tag key '{key}' is not allowed: keys starting with 'aws:' are "
                                                  f"reserved for AWS use.")
    return tags


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
            "AddTags": self.add_tags,
            "ListTags": self.list_tags,
            "DeleteTags": self.delete_tags,
        }

    def create_training_job(self, params: dict) -> dict:
        tags = _tags(params.pop("Tags", None))
        if len(tags) > MAX_TAGS:
            raise ApiError("ValidationException", f"A training job can have at most {MAX_TAGS} tags, got {len(tags)}.")
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

    def _resource(self, arn: str) -> StoredJob:
        stored = self.store.job_by_arn(arn.lower())
        if stored is None:
            raise not_found()
        return stored

    def add_tags(self, params: dict) -> dict:
        stored = self._resource(params["ResourceArn"])
        tags = _tags(params["Tags"])
        keys = {k for k, _ in self.store.tags(stored.arn)} | {k for k, _ in tags}
        if len(keys) > MAX_TAGS:
            raise ApiError("ValidationException", f"A resource can have at most {MAX_TAGS} tags; these would make "
                                                  f"{len(keys)}.")
        self.store.add_tags(stored.arn, tags)
        return {"Tags": [{"Key": k, "Value": v} for k, v in tags]}

    def list_tags(self, params: dict) -> dict:
        stored = self._resource(params["ResourceArn"])
        limit = params.get("MaxResults", MAX_TAGS)
        offset = decode_token(params.get("NextToken"))
        tags = self.store.tags(stored.arn)
        response = {"Tags": [{"Key": k, "Value": v} for k, v in tags[offset:offset + limit]]}
        if len(tags) > offset + limit:
            response["NextToken"] = encode_token(offset + limit)
        return response

    def delete_tags(self, params: dict) -> dict:
        stored = self._resource(params["ResourceArn"])
        self.store.delete_tags(stored.arn, params["TagKeys"])
        return {}
