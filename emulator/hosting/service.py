"""Models, endpoint configurations, endpoints and transform jobs: what the operations do.

Requests arrive checked against botocore's model (the API's request validator); what the model
cannot say is checked here, before anything is created, with SageMaker's wording where it is
known (`Could not find model "<arn>".`, `Cannot create already existing endpoint "<arn>".`,
which the SDK matches). Refusals are RequestValidationErrors (code + message); the API answers
them as AWS errors. Models and endpoint configurations are records only; endpoints and
transform jobs run servers (emulator.hosting.endpoints, emulator.hosting.transform).
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from pathlib import Path

from emulator.channels import channel_objects
from emulator.hosting.artifacts import check_model_data_url, model_data_exists
from emulator.hosting.context import DEFAULT_STOP_GRACE_SECONDS, HostingContext, already_exists, not_found
from emulator.hosting.endpoints import Endpoints, Instance
from emulator.hosting.logbook import LogBook
from emulator.hosting.placement import PlacementError, place
from emulator.hosting.records import (ENDPOINT, ENDPOINT_CONFIG, MODEL, TRANSFORM_JOB, Database, Duplicate, Record,
                                      Resources)
from emulator.hosting.servers import ServerFactory
from emulator.hosting.transform import TransformRun
from emulator.instance_types import host_limit
from emulator.runners.placement import Placer
from emulator.spec import DEFAULT_ACCOUNT_ID, DEFAULT_REGION, DEFAULT_ROLE_ARN, Channel, RequestValidationError
from emulator.storage import Storage, StorageError
from emulator.store import DATABASE_NAME

log = logging.getLogger("smlocal.hosting")

LABELS = {MODEL: "model", ENDPOINT_CONFIG: "endpoint configuration", ENDPOINT: "endpoint",
          TRANSFORM_JOB: "transform job"}
MODEL_MEMBERS = ("ModelName", "PrimaryContainer", "Containers", "InferenceExecutionConfig", "ExecutionRoleArn",
                 "VpcConfig", "EnableNetworkIsolation")
CONFIG_MEMBERS = ("EndpointConfigName", "ProductionVariants", "DataCaptureConfig", "KmsKeyId",
                  "ExecutionRoleArn", "VpcConfig", "EnableNetworkIsolation")
TRANSFORM_MEMBERS = ("TransformJobName", "ModelName", "MaxConcurrentTransforms", "ModelClientConfig", "MaxPayloadInMB",
                     "BatchStrategy", "Environment", "TransformInput", "TransformOutput", "DataCaptureConfig",
                     "TransformResources", "DataProcessing", "ExperimentConfig")
TRANSFORM_ACTIVE = ("InProgress", "Stopping")
# CreateTransformJob: "MaxConcurrentTransforms * MaxPayloadInMB must not exceed 100 MB" (the API reference).
MAX_TRANSFORM_MB = 100
INTERRUPTED = ("InternalServerError: The smlocal API server stopped while this transform job was {status}; it was "
               "marked Failed when the server started again at {when}. Outputs uploaded before that are kept.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _refuse(message: str) -> RequestValidationError:
    return RequestValidationError(message)


class HostingService:
    def __init__(self, ctx: HostingContext) -> None:
        self.ctx = ctx
        self.endpoints = Endpoints(ctx)
        self._lock = threading.Lock()
        self._transforms: dict[str, TransformRun] = {}
        self._threads: dict[str, threading.Thread] = {}

    def arn(self, kind: str, name: str) -> str:
        return self.ctx.arn(kind, name)

    def get(self, kind: str, name: str) -> Record:
        record = self.ctx.resources.get(kind, name)
        if record is None:
            if kind == TRANSFORM_JOB:
                raise RequestValidationError(f"Could not find requested job with name {name}")
            raise not_found(LABELS[kind], self.arn(kind, name))
        return record

    def _insert(self, kind: str, name: str, body: dict, status: str | None = None) -> Record:
        arn = self.arn(kind, name)
        try:
            return self.ctx.resources.insert(kind, name, arn, body, status, at=body.get("CreationTime"))
        except Duplicate:
            if kind == TRANSFORM_JOB:
                raise RequestValidationError("Job name must be unique within an AWS account and region, and a job "
                                             f"with this name already exists ({arn})", code="ResourceInUse") from None
            raise already_exists(LABELS[kind], arn) from None

    # ---- models -------------------------------------------------------------------------------

    def create_model(self, params: dict) -> str:
        name = params["ModelName"]
        container = self._container(params)
        try:
            place(container["Image"], "local", self.ctx.placer, container.get("Environment"))
        except PlacementError as exc:
            raise _refuse(str(exc)) from None
        url = container.get("ModelDataUrl")
        if url:
            unreadable = check_model_data_url(url)
            if unreadable:
                raise _refuse(unreadable)
            if not model_data_exists(url, self.ctx.storage):
                raise _refuse(f"Could not find model data at {url}.")
        body = {k: params[k] for k in MODEL_MEMBERS if k in params}
        body.update(ModelArn=self.arn(MODEL, name), CreationTime=_now(), Container=container)
        body.setdefault("EnableNetworkIsolation", False)
        return self._insert(MODEL, name, body).arn

    @staticmethod
    def _container(params: dict) -> dict:
        """The one container this model runs (inference pipelines of several are not served here)."""
        containers = params.get("Containers") or []
        primary = params.get("PrimaryContainer")
        if primary and containers:
            raise _refuse("Specify either PrimaryContainer or Containers, not both.")
        if not primary and not containers:
            raise _refuse("Either PrimaryContainer or Containers must be specified.")
        if len(containers) > 1:
            raise _refuse(f"smlocal serves models of one container; this one has {len(containers)} (an inference "
                          f"pipeline or multi-container endpoint).")
        container = primary or containers[0]
        if container.get("ModelPackageName"):
            raise _refuse("ModelPackageName is not supported by smlocal (there is no model registry): give Image "
                          "and ModelDataUrl.")
        if not container.get("Image"):
            raise _refuse("The container definition needs an Image.")
        if container.get("Mode") == "MultiModel":
            raise _refuse("Multi-model endpoints (Mode MultiModel) are not supported by smlocal.")
        return container

    def delete_model(self, name: str) -> None:
        # Endpoints keep what they deployed, so a model in use may go, as in SageMaker.
        self.ctx.resources.delete(MODEL, self.get(MODEL, name).name)

    # ---- endpoint configurations --------------------------------------------------------------

    def create_endpoint_config(self, params: dict) -> str:
        name = params["EndpointConfigName"]
        for unsupported in ("AsyncInferenceConfig", "ShadowProductionVariants", "ExplainerConfig"):
            if params.get(unsupported):
                raise _refuse(f"{unsupported} is not supported by smlocal: endpoints answer InvokeEndpoint only.")
        variants = params["ProductionVariants"]
        names = [v["VariantName"] for v in variants]
        if len(set(n.lower() for n in names)) != len(names):
            raise _refuse(f"Variant names must be unique within an endpoint configuration: {', '.join(names)}.")
        for variant in variants:
            if not variant.get("ModelName"):
                raise _refuse(f"Production variant {variant['VariantName']} needs a ModelName.")
            self.get(MODEL, variant["ModelName"])
            if not variant.get("ServerlessConfig") and not (variant.get("InstanceType")
                                                             and variant.get("InitialInstanceCount")):
                raise _refuse(f"Production variant {variant['VariantName']} needs InstanceType and "
                              f"InitialInstanceCount (or a ServerlessConfig).")
        body = {k: params[k] for k in CONFIG_MEMBERS if k in params}
        body.update(EndpointConfigArn=self.arn(ENDPOINT_CONFIG, name), CreationTime=_now())
        return self._insert(ENDPOINT_CONFIG, name, body).arn

    def delete_endpoint_config(self, name: str) -> None:
        # The SDK's delete_endpoint() deletes the configuration before the endpoint: allowed while in use.
        self.ctx.resources.delete(ENDPOINT_CONFIG, self.get(ENDPOINT_CONFIG, name).name)

    def _plan(self, config_name: str) -> dict:
        """What an endpoint deploys: the configuration and its models as they are now."""
        config = self.get(ENDPOINT_CONFIG, config_name).body
        variants = []
        for variant in config["ProductionVariants"]:
            model = self.get(MODEL, variant["ModelName"]).body
            serverless = bool(variant.get("ServerlessConfig"))
            variants.append({
                "VariantName": variant["VariantName"], "ModelName": model["ModelName"],
                # Serverless variants run as one instance of the machine's size.
                "InstanceType": variant.get("InstanceType") or "local",
                "InitialInstanceCount": 1 if serverless else variant["InitialInstanceCount"],
                "InitialVariantWeight": float(variant.get("InitialVariantWeight", 1.0)),
                "ContainerStartupHealthCheckTimeoutInSeconds": variant.get("ContainerStartupHealthCheckTimeoutInSeconds"),
                "Container": model["Container"]})
        instances = sum(v["InitialInstanceCount"] for v in variants)
        limit = host_limit()
        if instances > limit:
            raise RequestValidationError(
                f"Endpoint configuration {config['EndpointConfigName']} asks for {instances} instances; this machine "
                f"runs at most {limit} at once (SMLOCAL_MAX_HOSTS raises the limit).", code="ResourceLimitExceeded")
        return {"EndpointConfigName": config["EndpointConfigName"], "Variants": variants}

    # ---- endpoints ----------------------------------------------------------------------------

    def create_endpoint(self, params: dict) -> str:
        name = params["EndpointName"]
        plan = self._plan(params["EndpointConfigName"])
        now = _now()
        body = {"EndpointName": name, "EndpointArn": self.arn(ENDPOINT, name),
                "EndpointConfigName": plan["EndpointConfigName"], "EndpointStatus": "Creating",
                "CreationTime": now, "LastModifiedTime": now, "Planned": plan}
        with self._lock:
            record = self._insert(ENDPOINT, name, body, "Creating")
            self.endpoints.start_create(name, plan)
        return record.arn

    def update_endpoint(self, params: dict) -> str:
        record = self.get(ENDPOINT, params["EndpointName"])
        status = record.body["EndpointStatus"]
        if status == "Failed":
            raise _refuse(f'Cannot update failed endpoint "{record.arn}"; delete it and create it again.')
        if status != "InService":
            raise _refuse(f'Cannot update in-progress endpoint "{record.arn}".')
        plan = self._plan(params["EndpointConfigName"])
        self.endpoints.start_update(record.name, plan)
        return record.arn

    def delete_endpoint(self, name: str) -> None:
        record = self.get(ENDPOINT, name)
        if record.body["EndpointStatus"] == "Deleting":
            return
        self.endpoints.start_delete(record.name)

    def route(self, name: str, variant: str | None = None) -> Instance | None:
        return self.endpoints.route(name, variant)

    def invocation(self, name: str, variant: str | None = None):
        """`with hosting.invocation(name) as instance:` the instance that answers one invocation."""
        return self.endpoints.invocation(name, variant)

    # ---- transform jobs -----------------------------------------------------------------------

    def create_transform_job(self, params: dict) -> str:
        name = params["TransformJobName"]
        model = self.get(MODEL, params["ModelName"]).body
        self._check_transform(params)
        source = params["TransformInput"]["DataSource"]["S3DataSource"]
        channel = Channel(name="TransformInput", s3_data_type=source["S3DataType"], s3_uri=source["S3Uri"])
        try:
            objects = channel_objects(channel, self.ctx.storage, self.ctx.region,
                                      model.get("ExecutionRoleArn") or DEFAULT_ROLE_ARN)
            self.ctx.storage.check_destination(params["TransformOutput"]["S3OutputPath"])
        except StorageError as exc:
            raise _refuse(str(exc)) from None
        body = {k: params[k] for k in TRANSFORM_MEMBERS if k in params}
        body.update(TransformJobArn=self.arn(TRANSFORM_JOB, name), TransformJobStatus="InProgress",
                    CreationTime=_now())
        with self._lock:
            record = self._insert(TRANSFORM_JOB, name, body, "InProgress")
            run = TransformRun(self.ctx, body, model["Container"], objects,
                               lambda changes: self._transform_changed(record.name, changes))
            self._transforms[record.name.lower()] = run
            thread = threading.Thread(target=self._transform, args=(record.name, run), daemon=True,
                                      name=f"transform-{name}")
            self._threads[record.name.lower()] = thread
            thread.start()
        return record.arn

    @staticmethod
    def _check_transform(params: dict) -> None:
        transform_input = params["TransformInput"]
        if transform_input.get("SplitType") == "TFRecord":
            raise _refuse("SplitType TFRecord is not supported by smlocal (None, Line and RecordIO are).")
        s3_type = transform_input["DataSource"]["S3DataSource"]["S3DataType"]
        if s3_type not in ("S3Prefix", "ManifestFile"):
            raise _refuse(f"S3DataType {s3_type} is not supported by smlocal for transform jobs (S3Prefix and "
                          f"ManifestFile are).")
        processing = params.get("DataProcessing") or {}
        if processing.get("InputFilter", "$") != "$" or processing.get("OutputFilter", "$") != "$" \
                or processing.get("JoinSource", "None") != "None":
            raise _refuse("DataProcessing (input and output filters, joins) is not supported by smlocal; they apply "
                          "to CSV and JSON data only.")
        payload = params.get("MaxPayloadInMB")
        if payload == 0:
            raise _refuse("MaxPayloadInMB 0 (chunked requests) is not supported by smlocal; give 1 to 100.")
        concurrency = params.get("MaxConcurrentTransforms")
        if payload and concurrency and payload * concurrency > MAX_TRANSFORM_MB:
            raise _refuse(f"MaxConcurrentTransforms ({concurrency}) * MaxPayloadInMB ({payload}) must not exceed "
                          f"{MAX_TRANSFORM_MB} MB.")
        count, limit = params["TransformResources"]["InstanceCount"], host_limit()
        if count > limit:
            raise RequestValidationError(f"InstanceCount {count}: this machine runs at most {limit} instances at once "
                                         f"(SMLOCAL_MAX_HOSTS raises the limit).", code="ResourceLimitExceeded")

    def _transform_changed(self, name: str, changes: dict) -> None:
        with self._lock:
            record = self.ctx.resources.get(TRANSFORM_JOB, name)
            if record is None:
                return
            body = {**record.body, **changes}
            self.ctx.resources.update(TRANSFORM_JOB, name, body, body["TransformJobStatus"])

    def _transform(self, name: str, run: TransformRun) -> None:
        try:
            run.run()
        except Exception:  # noqa: BLE001 - run() ends every job with a status; this is a last resort
            log.exception("transform job %s ended with an unexpected error", name)
        finally:
            self._transforms.pop(name.lower(), None)

    def stop_transform_job(self, name: str) -> None:
        record = self.get(TRANSFORM_JOB, name)
        status = record.body["TransformJobStatus"]
        if status not in TRANSFORM_ACTIVE:
            raise _refuse(f"The request was rejected because the transform job is in status {status}.")
        run = self._transforms.get(record.name.lower())
        if run is None:
            return
        self._transform_changed(record.name, {"TransformJobStatus": "Stopping"})
        threading.Thread(target=run.stop, daemon=True, name=f"stop-{name}").start()

    # ---- start and end of the server ----------------------------------------------------------

    def recover(self) -> list[str]:
        """Endpoints a previous server ran start again; its transform jobs are marked Failed."""
        for record in self.ctx.resources.with_status(TRANSFORM_JOB, TRANSFORM_ACTIVE):
            at = _now()
            reason = INTERRUPTED.format(status=record.status, when=at.isoformat(timespec="seconds"))
            self.ctx.resources.update(TRANSFORM_JOB, record.name, {
                **record.body, "TransformJobStatus": "Failed", "FailureReason": reason, "TransformEndTime": at},
                "Failed")
        return self.endpoints.recover()

    def shutdown(self, timeout: float = 20.0) -> None:
        for run in list(self._transforms.values()):
            run.stop()
        self.endpoints.shutdown(min(timeout, 10.0))
        for thread in list(self._threads.values()):
            thread.join(timeout)

    def wait_transforms(self, timeout: float) -> bool:
        """For tests and scripts: True once no transform job runs."""
        for thread in list(self._threads.values()):
            thread.join(timeout)
        return not self._transforms


def open_hosting(home: Path, placer: Placer, *, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT_ID,
                 serve_command: str | None = None, stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS,
                 storage: Storage | None = None) -> HostingService:
    """The hosting service of a job home: its tables and log groups in `<home>/smlocal.db`."""
    db = Database(home / DATABASE_NAME)
    return HostingService(HostingContext(
        root=home, resources=Resources(db), logs=LogBook(db), storage=storage or Storage(), placer=placer,
        servers=ServerFactory(serve_command), region=region, account=account, stop_grace_seconds=stop_grace_seconds))
