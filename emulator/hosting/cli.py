"""`smlocal serve`, `smlocal endpoints`, `smlocal transform`: thin front ends over the hosting code.

    smlocal serve model.tar.gz --algorithm image-classification [--port 8080]
        one server of the model in the foreground (the container contract: /ping, /invocations)
    smlocal endpoints [list|describe|create|invoke|delete] ...
    smlocal transform model.tar.gz --algorithm ... --input s3://b/in/ --output s3://b/out/
        endpoints and transform jobs of a running `smlocal api` (--url), through its API

`serve` unpacks the model with the same routine and starts the same server as an endpoint's
instance (the process runner or Docker, as `smlocal api` places them); the others send the
requests the SageMaker SDK sends, so what they do is what the API does.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import click

from emulator import algorithms
from emulator.hosting.artifacts import ModelDataError, prepare_model_dir
from emulator.hosting.context import instance_id
from emulator.hosting.placement import PlacementError, place
from emulator.hosting.servers import ServerCancelled, ServerFactory, ServerFailed, ServerSpec, wait_until_healthy
from emulator.runners.placement import DEFAULT_IMAGE_REPO, RUNNER_MODES, Placer
from emulator.spec import DEFAULT_ROLE_ARN
from emulator.storage import Storage, normalize_location

DEFAULT_API_URL = "http://127.0.0.1:8777"
POLL_SECONDS = 0.5
IMAGE_HELP = "A Docker image to serve instead (a bring-your-own container, or smlocal/<algorithm>:<tag>)."


def _location(value: str) -> str:
    """A local path as a file:// URI; s3:// and file:// as they are."""
    location = normalize_location(value)
    return location if "://" in location else Path(location).as_uri()


def _image(algorithm: str | None, image: str | None) -> str:
    if image:
        return image
    if not algorithm:
        raise click.UsageError("Say what serves the model: --algorithm NAME or --image TAG.")
    # SageMaker's own image URI of the built-in: the server maps it to this project's image or code.
    return f"811284229777.dkr.ecr.us-east-1.amazonaws.com/{algorithm}:1"


def _algorithm_option(command):
    return click.option("--algorithm", type=click.Choice(algorithms.names()), help="The built-in algorithm.")(command)


# ---- smlocal serve -------------------------------------------------------------------------------

@click.command()
@click.argument("model_data")
@_algorithm_option
@click.option("--image", help=IMAGE_HELP)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True,
              help="Loopback port of /ping and /invocations.")
@click.option("--runner", type=click.Choice(RUNNER_MODES), default="auto", show_default=True,
              help="auto: Docker when an engine answers and the image exists, else local processes.")
@click.option("--image-repo", default=DEFAULT_IMAGE_REPO, show_default=True,
              help="Local images of the built-in algorithms: <repo>/<algorithm>:latest.")
@click.option("--instance-type", default="local", show_default=True,
              help="Its CPUs and memory (capped at the machine's) size the server.")
@click.option("--workers", type=click.IntRange(min=1), help="SAGEMAKER_MODEL_SERVER_WORKERS (default: one per CPU).")
@click.option("--env", "environment", multiple=True, metavar="KEY=VALUE", help="Environment of the server.")
def serve(model_data: str, algorithm: str | None, image: str | None, port: int, runner: str, image_repo: str,
          instance_type: str, workers: int | None, environment: tuple[str, ...]) -> None:
    """Serve MODEL_DATA (a model.tar.gz: path, file:// or s3://) in the foreground until Ctrl-C."""
    env = dict(item.split("=", 1) for item in environment if "=" in item)
    if workers:
        env["SAGEMAKER_MODEL_SERVER_WORKERS"] = str(workers)
    try:
        placement = place(_image(algorithm, image), instance_type, Placer(runner, image_repo=image_repo), env)
    except PlacementError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"[smlocal] {placement.note}")
    with tempfile.TemporaryDirectory(prefix="smlocal-serve-") as scratch:
        base = Path(scratch) / "ml"
        try:
            prepare_model_dir({"ModelDataUrl": _location(model_data)}, base / "model", Storage(), Path(scratch))
        except ModelDataError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        spec = ServerSpec(label="serve", instance_id=instance_id(), placement=placement, base_dir=base,
                          instance_type=instance_type, environment=env, port=port)
        sys.exit(_serve(spec))


def _serve(spec: ServerSpec) -> int:
    """Run the server until it ends or a signal comes (during start-up too); its exit code. The
    server is stopped on every way out, so no process or container outlives the command."""
    stopping = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stopping.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    server = None
    try:
        try:
            server = ServerFactory().start(spec, click.echo)
            seconds = wait_until_healthy(server, 600, stopping.is_set)
        except ServerFailed as exc:
            click.echo(f"Error: {exc}", err=True)
            return 1
        except ServerCancelled:
            click.echo("[smlocal] Stopping the server (stopped before it was healthy).")
            return 0
        click.echo(f"[smlocal] Healthy after {seconds:.1f} s: POST {server.url}/invocations, GET {server.url}/ping "
                   f"(Ctrl-C stops).")
        while not stopping.wait(POLL_SECONDS):
            if server.exit_code() is not None:
                return server.exit_code()
        click.echo("[smlocal] Stopping the server (in-flight requests finish).")
        return 0
    finally:
        if server is not None:
            server.stop(30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ---- clients of a running smlocal api ------------------------------------------------------------

def _client(url: str, service: str):
    import boto3

    session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or os.environ.get(
        "AWS_DEFAULT_REGION") or "us-east-1")
    if session.get_credentials() is None:  # a server without credentials checks no signatures
        session = boto3.session.Session(aws_access_key_id="smlocal", aws_secret_access_key="smlocal",
                                        region_name=session.region_name)
    return session.client(service, endpoint_url=url)


def _api_call(call, *args, **kwargs):
    from botocore.exceptions import ClientError, EndpointConnectionError

    try:
        return call(*args, **kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        click.echo(f"Error: {error.get('Code')}: {error.get('Message')}", err=True)
        sys.exit(2)
    except EndpointConnectionError as exc:
        click.echo(f"Error: {exc}; is `smlocal api` running there (--url)?", err=True)
        sys.exit(2)


URL_OPTION = click.option("--url", default=lambda: os.environ.get("AWS_ENDPOINT_URL_SAGEMAKER")
                          or os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_API_URL,
                          show_default="$AWS_ENDPOINT_URL_SAGEMAKER, $AWS_ENDPOINT_URL or " + DEFAULT_API_URL,
                          help="The smlocal API.")


def _create_model(sm, name: str, model_data: str, algorithm: str | None, image: str | None) -> None:
    _api_call(sm.create_model, ModelName=name, ExecutionRoleArn=DEFAULT_ROLE_ARN,
              PrimaryContainer={"Image": _image(algorithm, image), "ModelDataUrl": _location(model_data)})


@click.group(invoke_without_command=True)
@URL_OPTION
@click.pass_context
def endpoints(ctx: click.Context, url: str) -> None:
    """Endpoints of a running `smlocal api` (no subcommand: list them)."""
    ctx.obj = url
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_endpoints)


@endpoints.command(name="list")
@click.pass_obj
def list_endpoints(url: str) -> None:
    """Name, status, configuration and creation time of every endpoint."""
    sm = _client(url, "sagemaker")
    for page in _api_call(lambda: list(sm.get_paginator("list_endpoints").paginate())):
        for item in page["Endpoints"]:
            described = _api_call(sm.describe_endpoint, EndpointName=item["EndpointName"])
            click.echo(f"{item['CreationTime'].astimezone():%Y-%m-%d %H:%M:%S}  {item['EndpointStatus']:<14} "
                       f"{item['EndpointName']}  ({described.get('EndpointConfigName', '')})")


@endpoints.command()
@click.argument("name")
@click.pass_obj
def describe(url: str, name: str) -> None:
    """DescribeEndpoint's answer (JSON)."""
    described = _api_call(_client(url, "sagemaker").describe_endpoint, EndpointName=name)
    described.pop("ResponseMetadata", None)
    click.echo(json.dumps(described, indent=2, default=str))


@endpoints.command()
@click.argument("name")
@click.argument("model_data")
@_algorithm_option
@click.option("--image", help=IMAGE_HELP)
@click.option("--instance-type", default="ml.m5.large", show_default=True)
@click.option("--instance-count", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until InService (or Failed).")
@click.pass_obj
def create(url: str, name: str, model_data: str, algorithm: str | None, image: str | None, instance_type: str,
           instance_count: int, wait: bool) -> None:
    """Deploy MODEL_DATA as endpoint NAME: CreateModel, CreateEndpointConfig, CreateEndpoint (as deploy() does)."""
    sm = _client(url, "sagemaker")
    _create_model(sm, name, model_data, algorithm, image)
    _api_call(sm.create_endpoint_config, EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": instance_count,
         "InstanceType": instance_type, "InitialVariantWeight": 1.0}])
    arn = _api_call(sm.create_endpoint, EndpointName=name, EndpointConfigName=name)["EndpointArn"]
    click.echo(f"Endpoint {arn}: Creating")
    if not wait:
        return
    while True:
        described = _api_call(sm.describe_endpoint, EndpointName=name)
        if described["EndpointStatus"] not in ("Creating", "Updating", "SystemUpdating"):
            break
        time.sleep(POLL_SECONDS)
    click.echo(f"Endpoint {name}: {described['EndpointStatus']}")
    if described["EndpointStatus"] != "InService":
        click.echo(f"FailureReason: {described.get('FailureReason')}", err=True)
        sys.exit(1)


@endpoints.command()
@click.argument("name")
@click.argument("body", type=click.File("rb"))
@click.option("--content-type", default="application/x-image", show_default=True)
@click.option("--accept")
@click.pass_obj
def invoke(url: str, name: str, body, content_type: str, accept: str | None) -> None:
    """InvokeEndpoint with the file BODY ('-' for stdin); the answer goes to stdout."""
    extra = {"Accept": accept} if accept else {}
    answer = _api_call(_client(url, "sagemaker-runtime").invoke_endpoint, EndpointName=name, Body=body.read(),
                       ContentType=content_type, **extra)
    sys.stdout.buffer.write(answer["Body"].read())
    sys.stdout.flush()


@endpoints.command()
@click.argument("name")
@click.pass_obj
def delete(url: str, name: str) -> None:
    """Delete the endpoint and its configuration (as Predictor.delete_endpoint() does)."""
    sm = _client(url, "sagemaker")
    config = _api_call(sm.describe_endpoint, EndpointName=name)["EndpointConfigName"]
    _api_call(sm.delete_endpoint_config, EndpointConfigName=config)
    _api_call(sm.delete_endpoint, EndpointName=name)
    click.echo(f"Deleting endpoint {name} (and its configuration {config}).")


# ---- smlocal transform ---------------------------------------------------------------------------

@click.command()
@click.argument("model_data")
@_algorithm_option
@click.option("--image", help=IMAGE_HELP)
@click.option("--input", "input_uri", required=True, help="S3 prefix, file:// URI or local folder of the objects.")
@click.option("--output", "output_uri", required=True, help="Where the <object>.out files go.")
@click.option("--name", help="TransformJobName (default <algorithm>-transform-<time>).")
@click.option("--content-type", default="application/x-image", show_default=True)
@click.option("--split-type", type=click.Choice(["None", "Line", "RecordIO"]), default="None", show_default=True)
@click.option("--accept")
@click.option("--assemble-with", type=click.Choice(["None", "Line"]))
@click.option("--strategy", type=click.Choice(["SingleRecord", "MultiRecord"]))
@click.option("--max-payload", type=click.IntRange(1, 100), help="MaxPayloadInMB.")
@click.option("--concurrency", type=click.IntRange(min=1), help="MaxConcurrentTransforms.")
@click.option("--instance-type", default="ml.m5.large", show_default=True)
@click.option("--instance-count", type=click.IntRange(min=1), default=1, show_default=True)
@URL_OPTION
def transform(model_data, algorithm, image, input_uri, output_uri, name, content_type, split_type, accept,
              assemble_with, strategy, max_payload, concurrency, instance_type, instance_count, url) -> None:
    """Transform every object under --input with MODEL_DATA through a running `smlocal api`, and wait."""
    sm, logs = _client(url, "sagemaker"), _client(url, "logs")
    name = name or f"{algorithm or 'model'}-transform-{time.strftime('%Y-%m-%d-%H-%M-%S')}"
    _create_model(sm, name, model_data, algorithm, image)
    output = {"S3OutputPath": _location(output_uri), **({"Accept": accept} if accept else {}),
              **({"AssembleWith": assemble_with} if assemble_with else {})}
    optional = {key: value for key, value in (("BatchStrategy", strategy), ("MaxPayloadInMB", max_payload),
                                              ("MaxConcurrentTransforms", concurrency)) if value}
    _api_call(sm.create_transform_job, TransformJobName=name, ModelName=name, TransformOutput=output,
              TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                              "S3Uri": _location(input_uri)}},
                              "ContentType": content_type, "SplitType": split_type},
              TransformResources={"InstanceType": instance_type, "InstanceCount": instance_count}, **optional)
    click.echo(f"Transform job {name}: InProgress")
    while True:
        described = _api_call(sm.describe_transform_job, TransformJobName=name)
        if described["TransformJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(POLL_SECONDS)
    group = "/aws/sagemaker/TransformJobs"
    for stream in _api_call(logs.describe_log_streams, logGroupName=group, logStreamNamePrefix=f"{name}/")[
            "logStreams"]:
        events = _api_call(logs.get_log_events, logGroupName=group, logStreamName=stream["logStreamName"],
                           startFromHead=True)["events"]
        for event in events:
            click.echo(event["message"])
    click.echo(f"Transform job {name}: {described['TransformJobStatus']}; outputs in {output['S3OutputPath']}")
    if described["TransformJobStatus"] != "Completed":
        click.echo(f"FailureReason: {described.get('FailureReason')}", err=True)
        sys.exit(1)
