"""Tags of every resource the API keeps: AddTags, ListTags, DeleteTags, and the `Tags` of the
Create operations (training and tuning jobs, models, endpoint configurations, endpoints,
transform jobs).

Tags live in the job store's tags table, keyed by the resource's ARN, whatever its kind; which
ARNs name a resource is asked of the services that keep them (`lookups`). A deleted model,
endpoint configuration or endpoint loses its tags, so a new one of the same name starts without
them, as on SageMaker.
"""
from __future__ import annotations

from typing import Callable, Iterable

from emulator.api.errors import ApiError
from emulator.api.paging import decode_token, encode_token
from emulator.jobs import not_found
from emulator.store import JobStore

MAX_TAGS = 50

# An ARN, as a client spells it -> the ARN the resource is kept under, or None if it names none.
Lookup = Callable[[str], "str | None"]


def parse_tags(items: list[dict] | None, resource: str) -> list[tuple[str, str]]:
    """The request's Tags as (key, value) pairs; a ValidationException for reserved keys or too many."""
    tags = [(t["Key"], t.get("Value", "")) for t in items or []]
    for key, _ in tags:
        if key.lower().startswith("aws:"):
            raise ApiError("ValidationException", f"Tag key '{key}' is not allowed: keys starting with 'aws:' are "
                                                  f"reserved for AWS use.")
    if len(tags) > MAX_TAGS:
        raise ApiError("ValidationException", f"A {resource} can have at most {MAX_TAGS} tags, got {len(tags)}.")
    return tags


class Tagging:
    def __init__(self, store: JobStore, lookups: Iterable[Lookup]) -> None:
        self.store = store
        self.lookups = [self._training_job, store.tuning_job_arn, *lookups]

    def _training_job(self, arn: str) -> str | None:
        stored = self.store.job_by_arn(arn.lower())  # training job ARNs are kept lower-cased
        return stored.arn if stored else None

    def resource(self, arn: str) -> str:
        for lookup in self.lookups:
            found = lookup(arn)
            if found is not None:
                return found
        raise not_found()

    def created(self, arn: str, tags: list[tuple[str, str]]) -> None:
        if tags:
            self.store.add_tags(arn, tags)

    def forget(self, arn: str) -> None:
        self.store.delete_tags(arn, [key for key, _ in self.store.tags(arn)])


class TagOperations:
    service = "sagemaker"
    rules = ()

    def __init__(self, tagging: Tagging) -> None:
        self.tagging = tagging
        self.operations = {"AddTags": self.add_tags, "ListTags": self.list_tags, "DeleteTags": self.delete_tags}

    def add_tags(self, params: dict) -> dict:
        arn = self.tagging.resource(params["ResourceArn"])
        tags = parse_tags(params["Tags"], "resource")
        store = self.tagging.store
        keys = {k for k, _ in store.tags(arn)} | {k for k, _ in tags}
        if len(keys) > MAX_TAGS:
            raise ApiError("ValidationException", f"A resource can have at most {MAX_TAGS} tags; these would make "
                                                  f"{len(keys)}.")
        store.add_tags(arn, tags)
        return {"Tags": [{"Key": k, "Value": v} for k, v in tags]}

    def list_tags(self, params: dict) -> dict:
        arn = self.tagging.resource(params["ResourceArn"])
        limit = params.get("MaxResults", MAX_TAGS)
        offset = decode_token(params.get("NextToken"))
        tags = self.tagging.store.tags(arn)
        response = {"Tags": [{"Key": k, "Value": v} for k, v in tags[offset:offset + limit]]}
        if len(tags) > offset + limit:
            response["NextToken"] = encode_token(offset + limit)
        return response

    def delete_tags(self, params: dict) -> dict:
        self.tagging.store.delete_tags(self.tagging.resource(params["ResourceArn"]), params["TagKeys"])
        return {}
