"""`smlocal train`'s flags as the CreateTrainingJob request the API would receive.

Flags go on top of `--spec` (a whole request in JSON) where they are given; what neither says
gets SageMaker's SDK defaults. Validation is not done here: the request goes through
`TrainingJobSpec.from_request`, as an API request does.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from container.contract import MODEL_CHANNEL, MODEL_CONTENT_TYPE
from emulator.jobhome import JobHome
from emulator.spec import DEFAULT_CHECKPOINT_LOCAL_PATH, DEFAULT_ROLE_ARN, algorithm_of, default_job_name
from emulator.storage import normalize_location
from emulator.validation import operation_model

# --channel option keys -> where they go in a Channel of the request.
CHANNEL_KEYS = {
    "content_type": "ContentType", "input_mode": "InputMode", "compression": "CompressionType",
    "record_wrapper": "RecordWrapperType", "s3_data_type": "S3DataType", "distribution": "S3DataDistributionType",
    "shuffle_seed": "ShuffleConfig", "attribute_names": "AttributeNames",
}
S3_SOURCE_KEYS = ("S3DataType", "S3DataDistributionType", "AttributeNames")


def _load_json(path: str, what: str):
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint=what) from exc
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{path} is not valid JSON: {exc}", param_hint=what) from exc


def _key_value(text: str, what: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"expected KEY=VALUE, got '{text}'", param_hint=what)
    return key.strip(), value


def hyperparameter_value(value) -> str:
    """JSON file values become the strings SageMaker carries: 5 -> "5", true -> "true"."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def parse_channel(text: str) -> dict:
    """`name=PATH[,content_type=...,input_mode=Pipe,...]` -> a Channel of InputDataConfig."""
    first, *options = text.split(",")
    name, uri = _key_value(first, "--channel")
    if not uri:
        raise click.BadParameter(f"channel '{name}' needs a location: {name}=PATH or {name}=s3://...",
                                 param_hint="--channel")
    s3 = {"S3DataType": "S3Prefix", "S3Uri": normalize_location(uri), "S3DataDistributionType": "FullyReplicated"}
    channel: dict = {"ChannelName": name}
    for option in options:
        key, value = _key_value(option, "--channel")
        if key not in CHANNEL_KEYS:
            raise click.BadParameter(f"unknown channel option '{key}' (allowed: {', '.join(CHANNEL_KEYS)})",
                                     param_hint="--channel")
        member = CHANNEL_KEYS[key]
        if member == "ShuffleConfig":
            try:
                channel[member] = {"Seed": int(value)}
            except ValueError:
                raise click.BadParameter(f"shuffle_seed must be an integer, got '{value}'",
                                         param_hint="--channel") from None
        elif member == "AttributeNames":
            s3[member] = [a for a in value.split(";") if a]
        elif member in S3_SOURCE_KEYS:
            s3[member] = value
        else:
            channel[member] = value
    channel["DataSource"] = {"S3DataSource": s3}
    return channel


def model_channel(uri: str) -> dict:
    """What the SageMaker SDK sends for `model_uri`."""
    return {"ChannelName": MODEL_CHANNEL, "ContentType": MODEL_CONTENT_TYPE, "InputMode": "File",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": normalize_location(uri),
                                            "S3DataDistributionType": "FullyReplicated"}}}


def _given(ctx: click.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def build_request(ctx: click.Context, opts: dict, home: JobHome) -> dict:
    """Flags on top of --spec (if any): the CreateTrainingJob request the API would receive."""
    request = _load_json(opts["spec"], "--spec") if opts["spec"] else {}
    if not isinstance(request, dict):
        raise click.BadParameter("the file must hold a JSON object (a CreateTrainingJob request)", param_hint="--spec")
    unknown = sorted(set(request) - set(operation_model("sagemaker", "CreateTrainingJob").input_shape.members))
    if unknown:
        click.echo(f"Warning: ignoring unknown CreateTrainingJob member(s) in --spec: {', '.join(unknown)}", err=True)

    algo = dict(request.get("AlgorithmSpecification") or {})
    environment = dict(request.get("Environment") or {})
    for item in opts["env"]:
        key, value = _key_value(item, "--env")
        environment[key] = value
    if opts["image"]:
        algo["TrainingImage"] = opts["image"]
        algo.pop("AlgorithmName", None)
        if opts["algorithm"] and algorithm_of(None, None, opts["image"]) != opts["algorithm"]:
            environment["SAGEMAKER_ALGORITHM"] = opts["algorithm"]
    elif opts["algorithm"]:
        algo["AlgorithmName"] = opts["algorithm"]
        algo.pop("TrainingImage", None)
    elif not algo.get("TrainingImage") and not algo.get("AlgorithmName"):
        raise click.UsageError("Say which algorithm to run: --algorithm NAME (or --image TAG, or --spec FILE).")
    if _given(ctx, "input_mode") or "TrainingInputMode" not in algo:
        algo["TrainingInputMode"] = opts["input_mode"]
    request["AlgorithmSpecification"] = algo
    if environment:
        request["Environment"] = environment

    if opts["job_name"] is not None:  # also "": refused by validation, never "no name given"
        request["TrainingJobName"] = opts["job_name"]
    elif "TrainingJobName" not in request:
        base = algorithm_of(environment.get("SAGEMAKER_ALGORITHM"), algo.get("AlgorithmName"),
                            algo.get("TrainingImage")) or "training-job"
        request["TrainingJobName"] = default_job_name(base)
    request.setdefault("RoleArn", DEFAULT_ROLE_ARN)

    hyperparameters = dict(request.get("HyperParameters") or {})
    if opts["hyperparameters"]:
        loaded = _load_json(opts["hyperparameters"], "--hyperparameters")
        if not isinstance(loaded, dict):
            raise click.BadParameter("the file must hold a JSON object", param_hint="--hyperparameters")
        hyperparameters.update({str(k): hyperparameter_value(v) for k, v in loaded.items()})
    for item in opts["hp"]:
        key, value = _key_value(item, "--hp")
        hyperparameters[key] = value
    request["HyperParameters"] = hyperparameters

    channels = list(request.get("InputDataConfig") or [])
    added = []
    if opts["input_data_config"]:
        loaded = _load_json(opts["input_data_config"], "--input-data-config")
        if not isinstance(loaded, list):
            raise click.BadParameter("the file must hold a JSON list of channels (InputDataConfig)",
                                     param_hint="--input-data-config")
        added.extend(loaded)
    added.extend(parse_channel(text) for text in opts["channel"])
    if opts["model_uri"]:
        added.append(model_channel(opts["model_uri"]))
    names = {c.get("ChannelName") for c in added if isinstance(c, dict)}
    channels = [c for c in channels if not isinstance(c, dict) or c.get("ChannelName") not in names] + added
    if channels:
        request["InputDataConfig"] = channels

    output = dict(request.get("OutputDataConfig") or {})
    if opts["output_path"] or "S3OutputPath" not in output:
        output["S3OutputPath"] = normalize_location(opts["output_path"] or str(home.default_output))
    request["OutputDataConfig"] = output

    resources = dict(request.get("ResourceConfig") or {})
    for flag, member in (("instance_type", "InstanceType"), ("instance_count", "InstanceCount"),
                         ("volume_size", "VolumeSizeInGB")):
        if _given(ctx, flag) or member not in resources:
            resources[member] = opts[flag]
    request["ResourceConfig"] = resources

    stopping = dict(request.get("StoppingCondition") or {})
    if _given(ctx, "max_runtime") or "MaxRuntimeInSeconds" not in stopping:
        stopping["MaxRuntimeInSeconds"] = opts["max_runtime"]
    request["StoppingCondition"] = stopping

    if opts["checkpoint_uri"]:
        request["CheckpointConfig"] = {"S3Uri": normalize_location(opts["checkpoint_uri"]),
                                       "LocalPath": opts["checkpoint_local_path"] or DEFAULT_CHECKPOINT_LOCAL_PATH}
    elif opts["checkpoint_local_path"]:
        raise click.UsageError("--checkpoint-local-path needs --checkpoint-uri.")
    return request
