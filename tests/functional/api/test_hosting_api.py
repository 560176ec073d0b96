"""Hosting through a real `smlocal api` (gunicorn, subprocess) with boto3: models, endpoint configs,
endpoints, the runtime's InvokeEndpoint on the same port, transform jobs, their logs, restarts.

The server serves with the fake server (tests/functional/hosting/fake_server.py) through the
process runner, and checks signatures; every response is checked against botocore's model.
"""
from __future__ import annotations

import json
import time

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError

from tests.functional.api.conftest import ACCESS_KEY, ROLE
from tests.functional.hosting.conftest import FAKE_SERVE_COMMAND, IC_IMAGE, model_tar

FAST = {"Delay": 0.2, "MaxAttempts": 300}


@pytest.fixture
def hosting_env(api_env):
    return {**api_env, "SMLOCAL_SERVE_COMMAND": FAKE_SERVE_COMMAND}


@pytest.fixture
def api(make_server, hosting_env):
    return make_server("--runner", "process", env=hosting_env)


@pytest.fixture
def clients(api):
    return api.client("sagemaker"), api.client("sagemaker-runtime"), api.client("logs")


def deploy(sm, name: str, model_data: str, config: str | None = None) -> None:
    config = config or name
    sm.create_model(ModelName=config, ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": IC_IMAGE, "ModelDataUrl": model_data, "Environment": {}})
    sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": config, "InitialInstanceCount": 1,
         "InstanceType": "ml.m4.xlarge", "InitialVariantWeight": 1}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)


def test_deploy_invoke_and_delete_as_the_sdk_does(clients, tmp_path):
    sm, runtime, logs = clients
    deploy(sm, "ep", model_tar(tmp_path / "m.tar.gz", {"answer": "A"}).as_uri())
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Creating"
    sm.get_waiter("endpoint_in_service").wait(EndpointName="ep", WaiterConfig=FAST)
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointArn"] == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep"
    variant = described["ProductionVariants"][0]
    assert variant["CurrentInstanceCount"] == 1 and variant["DeployedImages"][0]["SpecifiedImage"] == IC_IMAGE

    answer = runtime.invoke_endpoint(EndpointName="ep", Body=b"\xff\xd8\xffjpeg", ContentType="image/jpeg",
                                     Accept="application/json", CustomAttributes="trace=1")
    body = json.loads(answer["Body"].read())
    assert body["answer"] == "A" and body["content_type"] == "image/jpeg" and body["accept"] == "application/json"
    assert body["bytes"] == 7 and body["batch"] is None
    assert answer["ContentType"] == "application/json" and answer["InvokedProductionVariant"] == "AllTraffic"
    assert answer["CustomAttributes"] == "1=ecart"  # what the container answered (it reverses them)

    assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == ["ep"]
    assert sm.describe_model(ModelName="ep")["PrimaryContainer"]["Image"] == IC_IMAGE
    assert sm.describe_endpoint_config(EndpointConfigName="ep")["ProductionVariants"][0]["ModelName"] == "ep"

    # deploy(endpoint_logging=True) reads the group with FilterLogEvents, polling from nextToken.
    group = "/aws/sagemaker/Endpoints/ep"
    page = logs.filter_log_events(logGroupName=group, logStreamNamePrefix="AllTraffic/")
    messages = [e["message"] for e in page["events"]]
    assert any(m.startswith("[smlocal] Runner: process") for m in messages)
    assert "fake serve: model files ['behaviour.json']" in messages
    rest = logs.filter_log_events(logGroupName=group, logStreamNamePrefix="AllTraffic/", nextToken=page["nextToken"])
    assert rest["events"] == [] and "nextToken" not in rest
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="AllTraffic/")["logStreams"]
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith("AllTraffic/i-")
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/")["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group, "/aws/sagemaker/TrainingJobs"]

    # Predictor.delete_endpoint(): the configuration first, then the endpoint.
    sm.delete_endpoint_config(EndpointConfigName="ep")
    sm.delete_endpoint(EndpointName="ep")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="ep", WaiterConfig=FAST)
    with pytest.raises(ClientError) as missing:
        sm.describe_endpoint(EndpointName="ep")
    assert missing.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": 'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep".'}
    sm.delete_model(ModelName="ep")
    assert sm.list_models()["Models"] == []


def test_runtime_errors_are_the_services(clients, tmp_path, api):
    sm, runtime, _ = clients
    deploy(sm, "err", model_tar(tmp_path / "m.tar.gz").as_uri())
    sm.get_waiter("endpoint_in_service").wait(EndpointName="err", WaiterConfig=FAST)

    with pytest.raises(runtime.exceptions.ModelError) as failed:
        runtime.invoke_endpoint(EndpointName="err", Body=b"status:500 the model exploded")
    error = failed.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 500 and error["OriginalMessage"] == "the model exploded"
    assert error["Error"]["Message"] == (
        'Received server error (500) from primary with message "the model exploded". See https://us-east-1.console.'
        'aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:group=/aws/sagemaker/Endpoints/err in '
        'account 123456789012 for more information.')
    assert error["LogStreamArn"] == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/err"
    with pytest.raises(runtime.exceptions.ModelError, match=r"Received client error \(415\) from primary"):
        runtime.invoke_endpoint(EndpointName="err", Body=b"status:415 send an image")

    with pytest.raises(ClientError) as unknown:
        runtime.invoke_endpoint(EndpointName="nope", Body=b"x")
    assert unknown.value.response["Error"] == {"Code": "ValidationError",
                                               "Message": "Endpoint nope of account 123456789012 not found."}
    assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError, match="Value null at 'body' failed to satisfy constraint: Member must not be "
                                          "null") as empty:
        runtime.invoke_endpoint(EndpointName="err", Body=b"")
    assert empty.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError, match="is not a multi-model endpoint"):
        runtime.invoke_endpoint(EndpointName="err", Body=b"x", TargetModel="other.tar.gz")
    with pytest.raises(ClientError, match="larger than the InvokeEndpoint limit of 6291456 bytes") as big:
        runtime.invoke_endpoint(EndpointName="err", Body=b"x" * (6291456 + 1))
    assert big.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    # A plain HTTP client gets the same JSON, never an HTML page.
    plain = requests.post(f"{api.endpoint}/endpoints/nope/invocations", data=b"x", timeout=10)
    assert plain.headers["Content-Type"] == "application/json"
    assert plain.json()["__type"] in ("MissingAuthenticationTokenException", "ValidationError")
    # A web page cannot invoke an endpoint: browsers send an Origin.
    page = requests.post(f"{api.endpoint}/endpoints/err/invocations", data=b"x", timeout=10,
                         headers={"Origin": "http://attacker.example", "Content-Type": "text/plain"})
    assert page.status_code == 403

    wrong = boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key="wrong",
                                  region_name="us-east-1").client("sagemaker-runtime", endpoint_url=api.endpoint,
                                                                  config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as unsigned:
        wrong.invoke_endpoint(EndpointName="err", Body=b"x")
    assert unsigned.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_a_failed_endpoint_stops_the_waiter_with_its_reason(clients, tmp_path):
    sm, _, _ = clients
    deploy(sm, "broken", model_tar(tmp_path / "m.tar.gz", {"fail_load": "the weights are for 10 classes"}).as_uri())
    with pytest.raises(WaiterError):
        sm.get_waiter("endpoint_in_service").wait(EndpointName="broken", WaiterConfig=FAST)
    described = sm.describe_endpoint(EndpointName="broken")
    assert described["EndpointStatus"] == "Failed"
    assert "the weights are for 10 classes" in described["FailureReason"]
    with pytest.raises(ClientError, match="Cannot update failed endpoint"):
        sm.update_endpoint(EndpointName="broken", EndpointConfigName="broken")


def test_refusals_name_what_is_missing(clients, tmp_path):
    sm, _, _ = clients
    with pytest.raises(ClientError, match=r"Could not find model data at file:///nowhere/model.tar.gz\."):
        sm.create_model(ModelName="m", ExecutionRoleArn=ROLE,
                        PrimaryContainer={"Image": IC_IMAGE, "ModelDataUrl": "file:///nowhere/model.tar.gz"})
    with pytest.raises(ClientError, match='Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/'
                                          'ghost".'):
        sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "ghost", "InitialInstanceCount": 1,
             "InstanceType": "ml.m4.xlarge"}])
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sm.create_endpoint(EndpointName="e", EndpointConfigName="c")
    with pytest.raises(ClientError, match="Value 'ml.nope' at 'productionVariants.1.member.instanceType' failed "
                                          "to satisfy constraint: Member must satisfy enum value set"):
        sm.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "ghost", "InitialInstanceCount": 1, "InstanceType": "ml.nope"}])
    sm.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": IC_IMAGE, "ModelDataUrl": str(model_tar(tmp_path / "m.tar.gz"))})  # an absolute path works too
    with pytest.raises(ClientError, match='Cannot create already existing model "arn:aws:sagemaker:us-east-1:'
                                          '123456789012:model/m".'):
        sm.create_model(ModelName="M", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IC_IMAGE})


def test_update_endpoint_through_the_api(clients, tmp_path):
    sm, runtime, _ = clients
    deploy(sm, "up", model_tar(tmp_path / "a.tar.gz", {"answer": "A"}).as_uri(), config="a")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="up", WaiterConfig=FAST)
    sm.create_model(ModelName="b", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": IC_IMAGE, "ModelDataUrl": model_tar(tmp_path / "b.tar.gz", {"answer": "B"}).as_uri()})
    sm.create_endpoint_config(EndpointConfigName="b", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "b", "InitialInstanceCount": 1, "InstanceType": "ml.m4.xlarge"}])
    sm.update_endpoint(EndpointName="up", EndpointConfigName="b")
    with pytest.raises(ClientError, match="Cannot update in-progress endpoint"):
        sm.update_endpoint(EndpointName="up", EndpointConfigName="b")
    time.sleep(0.3)
    sm.get_waiter("endpoint_in_service").wait(EndpointName="up", WaiterConfig=FAST)
    assert sm.describe_endpoint(EndpointName="up")["EndpointConfigName"] == "b"
    assert json.loads(runtime.invoke_endpoint(EndpointName="up", Body=b"x")["Body"].read())["answer"] == "B"


def test_transform_job_through_the_api(clients, tmp_path):
    sm, _, logs = clients
    sm.create_model(ModelName="upper", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": IC_IMAGE, "ModelDataUrl": model_tar(tmp_path / "m.tar.gz", {"mode": "upper"}).as_uri()})
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.txt").write_text("alpha\nbeta\n")
    (source / "b.txt").write_text("FAIL")
    sm.create_transform_job(
        TransformJobName="tj", ModelName="upper",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source.as_uri()}},
                        "ContentType": "text/plain", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": (tmp_path / "out").as_uri(), "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m4.xlarge", "InstanceCount": 1}, BatchStrategy="SingleRecord")
    with pytest.raises(WaiterError, match="Failed"):  # the waiter stops at Failed
        sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName="tj", WaiterConfig=FAST)
    described = sm.describe_transform_job(TransformJobName="tj")
    assert described["TransformJobStatus"] == "Failed"
    assert "b.txt: cannot transform a record holding FAIL" in described["FailureReason"]
    assert described["TransformInput"]["SplitType"] == "Line" and described["ModelName"] == "upper"
    assert (tmp_path / "out" / "a.txt.out").read_text() == "ALPHA\nBETA\n"
    summaries = sm.list_transform_jobs(StatusEquals="Failed")["TransformJobSummaries"]
    assert [s["TransformJobName"] for s in summaries] == ["tj"] and "FailureReason" in summaries[0]
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix="tj/",
                                        orderBy="LogStreamName", limit=1)
    assert "nextToken" not in streams and len(streams["logStreams"]) == 1
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TransformJobs",
                                 logStreamName=streams["logStreams"][0]["logStreamName"], startFromHead=True)
    lines = [e["message"] for e in events["events"]]
    assert any("Bad HTTP status received from algorithm: 400" in line for line in lines)
    with pytest.raises(ClientError, match="is in status Failed"):
        sm.stop_transform_job(TransformJobName="tj")
    with pytest.raises(ClientError, match="Could not find requested job with name nope"):
        sm.describe_transform_job(TransformJobName="nope")


def test_models_endpoint_configs_endpoints_and_transform_jobs_keep_their_tags(clients, tmp_path):
    sm, _, _ = clients
    model_data = model_tar(tmp_path / "m.tar.gz", {"mode": "upper"}).as_uri()
    container = {"Image": IC_IMAGE, "ModelDataUrl": model_data}
    refused = {"Key": "aws:owner", "Value": "x"}
    with pytest.raises(ClientError, match="Tag key 'aws:owner' is not allowed"):
        sm.create_model(ModelName="tagged", ExecutionRoleArn=ROLE, PrimaryContainer=container, Tags=[refused])
    assert sm.list_models()["Models"] == []  # a refused tag creates nothing

    def tags(arn):
        return sm.list_tags(ResourceArn=arn)["Tags"]

    model = sm.create_model(ModelName="tagged", ExecutionRoleArn=ROLE, PrimaryContainer=container,
                            Tags=[{"Key": "project", "Value": "digits"}])["ModelArn"]
    config = sm.create_endpoint_config(EndpointConfigName="tagged", Tags=[{"Key": "stage", "Value": "test"}],
                                       ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "tagged",
                                                            "InitialInstanceCount": 1, "InstanceType": "ml.m4.xlarge"}])
    endpoint = sm.create_endpoint(EndpointName="tagged", EndpointConfigName="tagged",
                                  Tags=[{"Key": "owner", "Value": "vision"}])["EndpointArn"]
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.txt").write_text("alpha\n")
    transform = sm.create_transform_job(
        TransformJobName="tagged", ModelName="tagged", Tags=[{"Key": "batch", "Value": "nightly"}],
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source.as_uri()}}},
        TransformOutput={"S3OutputPath": (tmp_path / "out").as_uri()},
        TransformResources={"InstanceType": "ml.m4.xlarge", "InstanceCount": 1})["TransformJobArn"]
    assert tags(model) == [{"Key": "project", "Value": "digits"}]
    assert tags(config["EndpointConfigArn"]) == [{"Key": "stage", "Value": "test"}]
    assert tags(endpoint) == [{"Key": "owner", "Value": "vision"}]
    assert tags(transform) == [{"Key": "batch", "Value": "nightly"}]
    assert tags(endpoint.replace("endpoint/tagged", "endpoint/Tagged")) == tags(endpoint)  # names ignore case

    sm.add_tags(ResourceArn=model, Tags=[{"Key": "team", "Value": "ml"}, {"Key": "project", "Value": "mnist"}])
    assert tags(model) == [{"Key": "project", "Value": "mnist"}, {"Key": "team", "Value": "ml"}]
    sm.delete_tags(ResourceArn=endpoint, TagKeys=["owner"])
    assert tags(endpoint) == []

    sm.get_waiter("endpoint_in_service").wait(EndpointName="tagged", WaiterConfig=FAST)
    sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName="tagged", WaiterConfig=FAST)
    sm.delete_endpoint(EndpointName="tagged")
    sm.delete_endpoint_config(EndpointConfigName="tagged")
    sm.delete_model(ModelName="tagged")
    with pytest.raises(ClientError, match="Requested resource not found"):
        tags(model)
    again = sm.create_model(ModelName="tagged", ExecutionRoleArn=ROLE, PrimaryContainer=container)["ModelArn"]
    assert again == model and tags(again) == []  # a new model of the same name starts without the old tags
    assert tags(transform) == [{"Key": "batch", "Value": "nightly"}]  # transform jobs are never deleted


@pytest.mark.parametrize("crash", [False, True])
def test_endpoints_come_back_after_the_server_restarts(make_server, hosting_env, tmp_path, crash):
    home = tmp_path / "home"
    first = make_server("--runner", "process", home=home, env=hosting_env)
    sm = first.client("sagemaker")
    deploy(sm, "durable", model_tar(tmp_path / "m.tar.gz", {"answer": "still here"}).as_uri())
    sm.get_waiter("endpoint_in_service").wait(EndpointName="durable", WaiterConfig=FAST)
    if crash:
        first.kill_server_only()  # kill -9: the servers' supervisors end them
    else:
        first.stop()
    second = make_server("--runner", "process", home=home, env=hosting_env)
    sm, runtime = second.client("sagemaker"), second.client("sagemaker-runtime")
    assert sm.describe_endpoint(EndpointName="durable")["EndpointStatus"] in ("SystemUpdating", "InService")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="durable", WaiterConfig=FAST)
    answer = json.loads(runtime.invoke_endpoint(EndpointName="durable", Body=b"x")["Body"].read())
    assert answer["answer"] == "still here"
