"""Every Describe and List response of the SageMaker API, checked against botocore's output shapes.

The API is built in-process (emulator.api.server.build) and driven by real boto3 clients whose
HTTP the Flask test client answers, so each response is the one a client parses; the checker
(tests/api_model.py) walks botocore's model of the operation's output for every one of them:
required members, no unknown members, types, enums, lengths, patterns. Training and tuning jobs
run the fake algorithm, endpoints and transform jobs the fake server, so each resource is
described in the states a client sees (in progress, completed, failed, stopped). The last check
makes the coverage complete: every Describe*/List* operation the API serves was answered here.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from emulator.api.server import ApiConfig, build
from tests.api_model import ResponseChecker
from tests.functional.hosting.conftest import FAKE_SERVE_COMMAND, IC_IMAGE, model_tar

TESTS = Path(__file__).resolve().parents[2]
FAKE_ALGORITHM = TESTS / "functional" / "emulator" / "fake_algorithm.py"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
METRIC_LINES = json.dumps(["Epoch[0] Train-accuracy=0.5", "Epoch[0] Validation-accuracy=0.25"])


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_):
        yield self.data


@pytest.fixture
def api(tmp_path, monkeypatch):
    """(sagemaker client, checker, the served operation names) of an in-process API."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SMLOCAL_PROCESS_COMMAND", f"{sys.executable} {FAKE_ALGORITHM}")
    monkeypatch.setenv("SMLOCAL_SERVE_COMMAND", FAKE_SERVE_COMMAND)
    app, training, hosting, tuning = build(ApiConfig(home=tmp_path / "home", runner="process", max_concurrent_jobs=2,
                                                     stop_grace_seconds=2))
    web = app.test_client()
    client = boto3.session.Session(aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1").client(
        "sagemaker", endpoint_url="http://localhost", config=Config(retries={"max_attempts": 1}))

    def send(request, **_):
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        answer = web.post(urlsplit(request.url).path, data=request.body or b"", headers=headers)
        return AWSResponse(request.url, answer.status_code, dict(answer.headers), _Body(answer.data))

    client.meta.events.register("before-send", send)
    checker = ResponseChecker()
    checker.attach(client)
    served = _served_operations(training, hosting, tuning)
    yield client, checker, served
    tuning.shutdown()
    hosting.shutdown(timeout=10)
    training.shutdown(timeout=10)


def _served_operations(training, hosting, tuning) -> set[str]:
    from emulator.api.hosting_ops import HostingOperations
    from emulator.api.sagemaker_ops import SageMakerOperations
    from emulator.api.tags_ops import Tagging
    from emulator.api.tuning_ops import TuningOperations

    tagging = Tagging(training.store, [hosting.ctx.resources.arn])
    return {name for ops in (SageMakerOperations(training), HostingOperations(hosting, tagging),
                             TuningOperations(tuning)) for name in ops.operations}


def _wait(describe, status_key: str, done: tuple[str, ...], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        description = describe()
        if description[status_key] in done:
            return description
        assert time.monotonic() < deadline, f"still {description[status_key]}"
        time.sleep(0.1)


def _training_job(name: str, data: Path, output: Path, image: str = IC_IMAGE, **hyperparameters) -> dict:
    return {"TrainingJobName": name, "RoleArn": ROLE,
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
            "HyperParameters": {k: str(v) for k, v in hyperparameters.items()},
            "InputDataConfig": [{"ChannelName": "train", "ContentType": "application/x-recordio",
                                 "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data.as_uri()}}}],
            "OutputDataConfig": {"S3OutputPath": output.as_uri()},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}}


def test_every_describe_and_list_response_matches_botocores_output_shapes(api, tmp_path):
    sm, checker, served = api
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.rec").write_bytes(b"records")
    output = tmp_path / "output"

    # Training jobs: in progress, completed with metrics, failed, stopped.
    sm.create_training_job(**_training_job("done", data, output, lines=METRIC_LINES))
    sm.describe_training_job(TrainingJobName="done")
    sm.create_training_job(**_training_job("failed", data, output, exit_code=3, failure="ClientError: bad data"))
    sm.create_training_job(**_training_job("stopped", data, output, sleep=30))
    done = _wait(lambda: sm.describe_training_job(TrainingJobName="done"), "TrainingJobStatus", ("Completed",))
    assert {m["MetricName"] for m in done["FinalMetricDataList"]} == {"train:accuracy", "validation:accuracy"}
    _wait(lambda: sm.describe_training_job(TrainingJobName="stopped"), "SecondaryStatus", ("Training",))
    sm.stop_training_job(TrainingJobName="stopped")
    sm.describe_training_job(TrainingJobName="stopped")
    for name, status in (("failed", "Failed"), ("stopped", "Stopped")):
        _wait(lambda: sm.describe_training_job(TrainingJobName=name), "TrainingJobStatus", (status,))
    sm.list_training_jobs()
    sm.list_training_jobs(StatusEquals="Completed", SortBy="Name", MaxResults=1)
    sm.list_tags(ResourceArn=done["TrainingJobArn"])

    # A tuning job as the SDK creates it (HyperParameterTuningResourceConfig), then its training jobs.
    tuning_request = {
        "HyperParameterTuningJobName": "tune",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random", "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}},
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": IC_IMAGE, "TrainingInputMode": "File"}, "RoleArn": ROLE,
            "StaticHyperParameters": {"lines": METRIC_LINES},  # the fake algorithm ignores x
            "InputDataConfig": _training_job("t", data, output)["InputDataConfig"],
            "OutputDataConfig": {"S3OutputPath": output.as_uri()},
            "HyperParameterTuningResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                                   "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}}}
    sm.create_hyper_parameter_tuning_job(**tuning_request)
    sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")
    tuned = _wait(lambda: sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune"),
                  "HyperParameterTuningJobStatus", ("Completed",))
    # What SDK v2's HyperparameterTuner.attach reads by key, also when the request left it out.
    definition = tuned["TrainingJobDefinition"]
    assert definition["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1}
    assert "HyperParameterTuningResourceConfig" in definition
    assert {m["Name"] for m in definition["AlgorithmSpecification"]["MetricDefinitions"]} >= {"validation:accuracy"}
    config = tuned["HyperParameterTuningJobConfig"]
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    assert config["ParameterRanges"]["IntegerParameterRanges"] == []
    sm.list_hyper_parameter_tuning_jobs()
    sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune")
    sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune",
                                                         SortBy="FinalObjectiveMetricValue")
    sm.describe_training_job(TrainingJobName=tuned["BestTrainingJob"]["TrainingJobName"])

    # Hosting: a model, its configuration, an endpoint while Creating and InService; a transform job.
    model = model_tar(tmp_path / "model.tar.gz", {"answer": "A", "mode": "upper"})
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IC_IMAGE,
                                                                             "ModelDataUrl": model.as_uri()})
    sm.describe_model(ModelName="m")
    sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m4.xlarge"}])
    sm.describe_endpoint_config(EndpointConfigName="c")
    sm.create_endpoint(EndpointName="e", EndpointConfigName="c")
    sm.describe_endpoint(EndpointName="e")
    _wait(lambda: sm.describe_endpoint(EndpointName="e"), "EndpointStatus", ("InService",))
    batch_input = tmp_path / "batch"
    batch_input.mkdir()
    (batch_input / "a.txt").write_text("abc")
    sm.create_transform_job(TransformJobName="t", ModelName="m", TransformInput={
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": batch_input.as_uri()}}},
        TransformOutput={"S3OutputPath": (tmp_path / "batch-out").as_uri()},
        TransformResources={"InstanceType": "ml.m4.xlarge", "InstanceCount": 1})
    sm.describe_transform_job(TransformJobName="t")
    _wait(lambda: sm.describe_transform_job(TransformJobName="t"), "TransformJobStatus", ("Completed",))
    for operation in ("list_models", "list_endpoint_configs", "list_endpoints", "list_transform_jobs"):
        getattr(sm, operation)()
    sm.delete_endpoint(EndpointName="e")
    try:
        sm.describe_endpoint(EndpointName="e")  # Deleting, unless its server has already ended
    except sm.exceptions.ClientError as error:
        assert "Could not find endpoint" in str(error)

    assert not checker.violations, "\n".join(checker.violations)
    readers = {op for op in served if op.startswith(("Describe", "List"))}
    answered = {name.split(".", 1)[1] for name in checker.checked}
    assert readers - answered == set(), f"served but not checked here: {sorted(readers - answered)}"
