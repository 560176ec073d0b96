"""The SageMaker hosting and batch operations: models, endpoint configurations, endpoints, transform jobs.

Requests arrive checked against botocore's model (emulator.api.request_validator); the hosting
service (emulator.hosting.service) checks the rest and runs them, refusing with
RequestValidationErrors, which the app answers as AWS errors. Responses are plain dicts with
datetimes, shaped as the model's output shapes (the tests validate every one they receive).
"""
from __future__ import annotations

from typing import Callable

from emulator.api.paging import DEFAULT_LIST_RESULTS, decode_token, encode_token
from emulator.api.tags_ops import Tagging, parse_tags
from emulator.hosting.endpoints import describe as describe_endpoint
from emulator.hosting.records import ENDPOINT, ENDPOINT_CONFIG, MODEL, TRANSFORM_JOB, Record
from emulator.hosting.service import HostingService
from emulator.spec import LOCAL_INSTANCE_TYPES
from emulator.validation import ShapeRule, operation_model

# Beyond the real service (docs/api.md), as for training jobs: SDK local-mode instance types, and
# model artifacts on this machine (file:// URIs or absolute paths), so no S3 server is needed.
# Transform jobs' input and output locations are `S3Uri`s, which the training jobs' rule covers.
HOSTING_RULES = (
    ShapeRule("ProductionVariantInstanceType", accepts=lambda v: v in LOCAL_INSTANCE_TYPES),
    ShapeRule("TransformInstanceType", accepts=lambda v: v in LOCAL_INSTANCE_TYPES),
    ShapeRule("Url", accepts=lambda v: v.startswith(("file:///", "/"))),
    ShapeRule("S3ModelUri", accepts=lambda v: v.startswith(("file:///", "/"))),
)


def _members(operation: str, body: dict) -> dict:
    """`body` cut to what the operation's output shape has (records keep more)."""
    members = operation_model("sagemaker", operation).output_shape.members
    return {k: v for k, v in body.items() if k in members}


class HostingOperations:
    service = "sagemaker"
    rules = HOSTING_RULES

    def __init__(self, hosting: HostingService, tagging: Tagging) -> None:
        self.hosting = hosting
        self.tagging = tagging
        self.operations = {
            "CreateModel": self.create_model, "DescribeModel": self.describe_model,
            "ListModels": self.list_models, "DeleteModel": self.delete_model,
            "CreateEndpointConfig": self.create_endpoint_config, "DescribeEndpointConfig": self.describe_endpoint_config,
            "ListEndpointConfigs": self.list_endpoint_configs, "DeleteEndpointConfig": self.delete_endpoint_config,
            "CreateEndpoint": self.create_endpoint, "DescribeEndpoint": self.describe_endpoint,
            "ListEndpoints": self.list_endpoints, "UpdateEndpoint": self.update_endpoint,
            "DeleteEndpoint": self.delete_endpoint,
            "CreateTransformJob": self.create_transform_job, "DescribeTransformJob": self.describe_transform_job,
            "ListTransformJobs": self.list_transform_jobs, "StopTransformJob": self.stop_transform_job,
        }

    def _create(self, create: Callable[[dict], str], params: dict, label: str) -> str:
        """Create the resource with its Tags (checked first: a refused tag creates nothing)."""
        tags = parse_tags(params.get("Tags"), label)
        arn = create(params)
        self.tagging.created(arn, tags)
        return arn

    def _delete(self, delete: Callable[[str], None], kind: str, name: str) -> None:
        delete(name)
        self.tagging.forget(self.hosting.arn(kind, name))

    def _list(self, kind: str, params: dict, key: str, summary: Callable[[Record], dict]) -> dict:
        limit = params.get("MaxResults", DEFAULT_LIST_RESULTS)
        offset = decode_token(params.get("NextToken"))
        found = self.hosting.ctx.resources.search(
            kind, name_contains=params.get("NameContains"), status=params.get("StatusEquals"),
            created_after=params.get("CreationTimeAfter"), created_before=params.get("CreationTimeBefore"),
            modified_after=params.get("LastModifiedTimeAfter"), modified_before=params.get("LastModifiedTimeBefore"),
            sort_by=params.get("SortBy", "CreationTime"), descending=params.get("SortOrder", "Descending") == "Descending",
            offset=offset, limit=limit + 1)
        response = {key: [summary(r) for r in found[:limit]]}
        if len(found) > limit:
            response["NextToken"] = encode_token(offset + limit)
        return response

    # ---- models -------------------------------------------------------------------------------

    def create_model(self, params: dict) -> dict:
        return {"ModelArn": self._create(self.hosting.create_model, params, "model")}

    def describe_model(self, params: dict) -> dict:
        return _members("DescribeModel", self.hosting.get(MODEL, params["ModelName"]).body)

    def list_models(self, params: dict) -> dict:
        return self._list(MODEL, params, "Models", lambda r: {"ModelName": r.name, "ModelArn": r.arn,
                                                              "CreationTime": r.creation_time})

    def delete_model(self, params: dict) -> dict:
        self._delete(self.hosting.delete_model, MODEL, params["ModelName"])
        return {}

    # ---- endpoint configurations --------------------------------------------------------------

    def create_endpoint_config(self, params: dict) -> dict:
        return {"EndpointConfigArn": self._create(self.hosting.create_endpoint_config, params, "endpoint configuration")}

    def describe_endpoint_config(self, params: dict) -> dict:
        return _members("DescribeEndpointConfig",
                        self.hosting.get(ENDPOINT_CONFIG, params["EndpointConfigName"]).body)

    def list_endpoint_configs(self, params: dict) -> dict:
        return self._list(ENDPOINT_CONFIG, params, "EndpointConfigs",
                          lambda r: {"EndpointConfigName": r.name, "EndpointConfigArn": r.arn,
                                     "CreationTime": r.creation_time})

    def delete_endpoint_config(self, params: dict) -> dict:
        self._delete(self.hosting.delete_endpoint_config, ENDPOINT_CONFIG, params["EndpointConfigName"])
        return {}

    # ---- endpoints ----------------------------------------------------------------------------

    def create_endpoint(self, params: dict) -> dict:
        return {"EndpointArn": self._create(self.hosting.create_endpoint, params, "endpoint")}

    def describe_endpoint(self, params: dict) -> dict:
        return describe_endpoint(self.hosting.get(ENDPOINT, params["EndpointName"]).body)

    def list_endpoints(self, params: dict) -> dict:
        return self._list(ENDPOINT, params, "Endpoints",
                          lambda r: {"EndpointName": r.name, "EndpointArn": r.arn, "CreationTime": r.creation_time,
                                     "LastModifiedTime": r.last_modified_time, "EndpointStatus": r.status})

    def update_endpoint(self, params: dict) -> dict:
        return {"EndpointArn": self.hosting.update_endpoint(params)}

    def delete_endpoint(self, params: dict) -> dict:
        self._delete(self.hosting.delete_endpoint, ENDPOINT, params["EndpointName"])
        return {}

    # ---- transform jobs -----------------------------------------------------------------------

    def create_transform_job(self, params: dict) -> dict:
        return {"TransformJobArn": self._create(self.hosting.create_transform_job, params, "transform job")}

    def describe_transform_job(self, params: dict) -> dict:
        return _members("DescribeTransformJob", self.hosting.get(TRANSFORM_JOB, params["TransformJobName"]).body)

    def list_transform_jobs(self, params: dict) -> dict:
        def summary(record: Record) -> dict:
            item = {"TransformJobName": record.name, "TransformJobArn": record.arn,
                    "CreationTime": record.creation_time, "LastModifiedTime": record.last_modified_time,
                    "TransformJobStatus": record.status}
            for key in ("TransformEndTime", "FailureReason"):
                if key in record.body:
                    item[key] = record.body[key]
            return item
        return self._list(TRANSFORM_JOB, params, "TransformJobSummaries", summary)

    def stop_transform_job(self, params: dict) -> dict:
        self.hosting.stop_transform_job(params["TransformJobName"])
        return {}
