"""`smlocal`: run SageMaker training jobs locally.

    smlocal train --algorithm image-classification --channel train=data/train \\
        --channel validation=data/val --hp num_classes=2 --hp epochs=1
    smlocal stop <job>          smlocal describe <job>

The CLI builds the same CreateTrainingJob request the SageMaker API takes (see `--spec`) and
validates it with the same code.
"""
from __future__ import annotations

import json
import os
import shlex
import signal
import sys
from datetime import datetime
from pathlib import Path

import click

from emulator.jobhome import JobDir, JobHome, default_home
from emulator.lifecycle import (
    ACTIVE, DEFAULT_STOP_GRACE_SECONDS, JobResult, Transition, TrainingJob, fail_if_abandoned, hosts_in_use,
)
from emulator.pretrained.cli import pretrained
from emulator.spec import (
    ALGORITHMS, DEFAULT_CHECKPOINT_LOCAL_PATH, DEFAULT_MAX_RUNTIME_SECONDS, DEFAULT_ROLE_ARN,
    DEFAULT_VOLUME_SIZE_GB, INPUT_MODES, KNOWN_MEMBERS, MODEL_CHANNEL, MODEL_CONTENT_TYPE,
    RequestValidationError, TrainingJobSpec, algorithm_of, default_job_name, validate_job_name,
)
from emulator.staging import remove_tree
from emulator.storage import normalize_location

PROCESS_COMMAND_ENV = "SMLOCAL_PROCESS_COMMAND"

# --channel option keys -> where they go in a Channel of the request.
CHANNEL_KEYS = {
    "content_type": "ContentType", "input_mode": "InputMode", "compression": "CompressionType",
    "record_wrapper": "RecordWrapperType", "s3_data_type": "S3DataType", "distribution": "S3DataDistributionType",
    "shuffle_seed": "ShuffleConfig", "attribute_names": "AttributeNames",
}
S3_SOURCE_KEYS = ("S3DataType", "S3DataDistributionType", "AttributeNames")
HOME_OPTION = click.option("--home", type=click.Path(file_okay=False),
                           help="Job home (default $SMLOCAL_HOME or ~/.smlocal).")


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
    unknown = sorted(set(request) - set(KNOWN_MEMBERS))
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


def make_runner(image: str | None, strict_gpu: bool):
    if image:
        from emulator.runners.docker_runner import DockerRunner  # needs the docker SDK; only then

        return DockerRunner(strict_gpu=strict_gpu)
    from emulator.runners.process import ProcessRunner

    command = os.environ.get(PROCESS_COMMAND_ENV)
    return ProcessRunner(shlex.split(command) if command else None)


def _time(value: datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def print_result(result: JobResult) -> None:
    click.echo("")
    click.echo(f"Training job {result.job_name}: {result.status} ({result.secondary_status})")
    if result.failure_reason:
        click.echo(f"FailureReason: {result.failure_reason}")
    for metric in result.final_metrics:
        click.echo(f"Metric {metric.name} = {metric.value:g}")
    if result.model_artifacts:
        click.echo(f"Model artifacts: {result.model_artifacts}")
    if result.output_artifacts:
        click.echo(f"Output data:     {result.output_artifacts}")
    if result.training_seconds is not None:
        click.echo(f"Training seconds: {result.training_seconds}")


def _refuse(code: str, message: str) -> None:
    click.echo(f"Error: {code}: {message}", err=True)
    sys.exit(2)


STATE_KEYS = ("TrainingJobStatus", "SecondaryStatus", "CreationTime")  # what every command reads


class UnreadableJob(Exception):
    """A job folder whose job.json is missing, not JSON or not a job's state."""


def _job_home(home: str | None) -> JobHome:
    return JobHome(Path(home).absolute() if home else default_home())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Run SageMaker training jobs on this machine."""


@main.command()
@click.option("--spec", type=click.Path(dir_okay=False), help="A whole CreateTrainingJob request (JSON); flags override it.")
@click.option("--job-name", "--name", "job_name", help="Default: <algorithm>-YYYY-MM-DD-HH-MM-SS-mmm.")
@click.option("--algorithm", type=click.Choice(ALGORITHMS), help="Built-in algorithm to run.")
@click.option("--hp", multiple=True, metavar="KEY=VALUE", help="Hyperparameter (repeatable).")
@click.option("--hyperparameters", type=click.Path(dir_okay=False), help="JSON object of hyperparameters.")
@click.option("--channel", multiple=True, metavar="NAME=PATH[,OPT=VALUE...]",
              help="Input channel from a local path, file:// or s3:// URI. Options: " + ", ".join(CHANNEL_KEYS)
              + " (attribute_names separated by ';').")
@click.option("--input-data-config", type=click.Path(dir_okay=False), help="JSON list of channels (InputDataConfig).")
@click.option("--input-mode", type=click.Choice(INPUT_MODES), default="File", show_default=True,
              help="TrainingInputMode (channels may override it).")
@click.option("--model-uri", help="model.tar.gz of an earlier job: becomes the 'model' channel (incremental training).")
@click.option("--output-path", help="S3OutputPath (local path or URI). Default: $SMLOCAL_HOME/output.")
@click.option("--checkpoint-uri", help="CheckpointConfig.S3Uri (local path or URI), synced both ways.")
@click.option("--checkpoint-local-path", help=f"CheckpointConfig.LocalPath (default {DEFAULT_CHECKPOINT_LOCAL_PATH}).")
@click.option("--instance-type", default="local", show_default=True)
@click.option("--instance-count", type=int, default=1, show_default=True)
@click.option("--max-hosts", type=click.IntRange(min=1),
              help="Most hosts that run on this machine at once, this job's and other running jobs' "
                   "(default $SMLOCAL_MAX_HOSTS, else one per CPU, at least 2, at most one per GiB of memory).")
@click.option("--volume-size", type=int, default=DEFAULT_VOLUME_SIZE_GB, show_default=True, help="VolumeSizeInGB.")
@click.option("--max-runtime", type=int, default=DEFAULT_MAX_RUNTIME_SECONDS, show_default=True,
              help="MaxRuntimeInSeconds.")
@click.option("--env", multiple=True, metavar="KEY=VALUE", help="Environment variable for the algorithm (repeatable).")
@click.option("--image", help="Run this Docker image (docker runner) instead of local processes.")
@click.option("--strict-gpu", is_flag=True, help="Docker runner: fail if a GPU instance type finds no GPU.")
@click.option("--stop-grace", type=float, default=DEFAULT_STOP_GRACE_SECONDS, show_default=True,
              help="Seconds between SIGTERM and SIGKILL when the job is stopped.")
@HOME_OPTION
@click.option("--dry-run", is_flag=True, help="Print the CreateTrainingJob request and exit.")
@click.pass_context
def train(ctx: click.Context, **opts) -> None:
    """Run one training job and wait for it to end (Ctrl-C stops it, a second Ctrl-C kills it)."""
    home = _job_home(opts["home"])
    request = build_request(ctx, opts, home)
    if opts["dry_run"]:
        click.echo(json.dumps(request, indent=2))
        return
    try:
        spec = TrainingJobSpec.from_request(request)
        runner = make_runner(opts["image"], opts["strict_gpu"])
        click.echo(f"Training job {spec.name} ({home.job(spec.name).root})")
        job = TrainingJob.submit(spec, home, runner, stop_grace_seconds=opts["stop_grace"],
                                 max_hosts=opts["max_hosts"], busy_hosts=hosts_in_use(home),
                                 on_transition=_print_transition, on_log=_log_printer(spec.instance_count))
    except RequestValidationError as exc:
        _refuse(exc.code, exc.message)
    interrupts = []

    def on_signal(signum, frame):  # noqa: ARG001
        interrupts.append(signum)
        if len(interrupts) == 1:
            click.echo(f"\nStopping {spec.name}: SIGTERM, then SIGKILL after {opts['stop_grace']:g} s "
                       f"(Ctrl-C again to kill now).", err=True)
            job.stop()
        else:
            job.stop(force=True)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = job.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    print_result(result)
    if result.status == "Stopped":
        click.echo("Warning: the job was stopped; the artifacts hold what the algorithm saved.", err=True)
    sys.exit(1 if result.status == "Failed" else 0)


def _print_transition(result: JobResult, transition: Transition) -> None:  # noqa: ARG001
    click.echo(f"{_time(transition.start_time)} {transition.status} - {transition.message}")


def _log_printer(host_count: int):
    def emit(host: str, line: str) -> None:
        if host == "smlocal":
            return  # the emulator's own notes go to job.log; transitions are printed separately
        click.echo(f"[{host}] {line}" if host_count > 1 else line)
    return emit


def _job_dir(home: str | None, job_name: str) -> JobDir:
    """The folder of an existing job, named as SageMaker allows; exits with the API's error otherwise."""
    try:
        validate_job_name(job_name)
        job_dir = _job_home(home).job(job_name)
    except RequestValidationError as exc:
        _refuse(exc.code, exc.message)
    if not job_dir.root.is_dir():
        _refuse("ValidationException", "Requested resource not found.")
    return job_dir


def _state(job_dir: JobDir) -> dict:
    """job.json, after marking the job Failed if the process that ran it is gone (see fail_if_abandoned)."""
    try:
        fail_if_abandoned(job_dir)
        state = job_dir.read_state()
    except FileNotFoundError:
        raise UnreadableJob(f"{job_dir.state_file} does not exist") from None
    except (ValueError, OSError, KeyError, TypeError) as exc:  # json's errors are ValueErrors
        raise UnreadableJob(f"{job_dir.state_file} is not a job's state ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(state, dict) or any(key not in state for key in STATE_KEYS):
        raise UnreadableJob(f"{job_dir.state_file} is not a job's state (it lacks {', '.join(STATE_KEYS)})")
    return state


@main.command()
@click.argument("job_name")
@HOME_OPTION
def stop(job_name: str, home: str | None) -> None:
    """Stop a running job (SIGTERM, grace period, SIGKILL); it ends Stopped with its artifacts."""
    job_dir = _job_dir(home, job_name)
    try:
        status = _state(job_dir)["TrainingJobStatus"]
    except UnreadableJob as exc:
        _refuse("ClientError", str(exc))
    if status not in ACTIVE:
        _refuse("ValidationException", f"The request was rejected because the training job is in status {status}.")
    job_dir.stop_marker.touch()
    click.echo(f"Stop requested for {job_name}.")


@main.command()
@click.argument("job_name")
@HOME_OPTION
def describe(job_name: str, home: str | None) -> None:
    """Print the job's state (DescribeTrainingJob-style JSON)."""
    job_dir = _job_dir(home, job_name)
    try:
        state = _state(job_dir)
        request = json.loads(job_dir.request_file.read_text()) if job_dir.request_file.exists() else {}
    except UnreadableJob as exc:
        _refuse("ClientError", str(exc))
    except ValueError as exc:
        _refuse("ClientError", f"{job_dir.request_file} is not valid JSON ({exc})")
    click.echo(json.dumps({**request, **state}, indent=2))


@main.command(name="list")
@HOME_OPTION
def list_jobs(home: str | None) -> None:
    """List the jobs in the job home, newest first (folders whose job.json is unreadable are skipped)."""
    rows = []
    for job_dir in _job_home(home).job_dirs():
        if not job_dir.state_file.exists():
            continue  # being created this very moment, or not a job's folder
        try:
            state = _state(job_dir)
        except UnreadableJob as exc:
            click.echo(f"Warning: skipping {job_dir.name}: {exc}", err=True)
            continue
        rows.append((str(state["CreationTime"]), job_dir.name, state["TrainingJobStatus"], state["SecondaryStatus"]))
    for created, name, status, secondary in sorted(rows, reverse=True):
        click.echo(f"{created[:19].replace('T', ' ')}  {status:<10} {secondary:<18} {name}")


@main.command()
@click.argument("job_name")
@HOME_OPTION
def delete(job_name: str, home: str | None) -> None:
    """Delete a finished job's folder (its artifacts under the output path stay)."""
    job_dir = _job_dir(home, job_name)
    try:
        status = _state(job_dir)["TrainingJobStatus"]
    except UnreadableJob:
        status = "unreadable"  # nothing to keep: it may go, unless a process still runs it
    owner = job_dir.claim()
    if owner is None or status in ACTIVE:
        _refuse("ResourceInUse", f"The training job {job_name} is {status if status in ACTIVE else 'in use'}; "
                                 f"stop it first.")
    try:
        remove_tree(job_dir.root)
    finally:
        owner.release()
    click.echo(f"Deleted {job_dir.root}.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 exposes the API, which checks no credentials, to the network).")
@click.option("--port", type=int, default=8777, show_default=True)
@click.option("--home", type=click.Path(file_okay=False), help="Job home (default $SMLOCAL_HOME or ~/.smlocal); "
                                                               "the job store is <home>/smlocal.db.")
@click.option("--max-concurrent-jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Jobs that train at once; later ones wait (InProgress / Starting).")
@click.option("--runner", type=click.Choice(["auto", "docker", "process"]), default="auto", show_default=True,
              help="auto: Docker when an engine answers and the image exists, else local processes for the "
                   "built-in algorithms; docker/process force one.")
@click.option("--strict-gpu", is_flag=True, help="A GPU instance type on a machine without GPUs fails the job "
                                                 "(default: train on CPU with a warning in the job log).")
@click.option("--image-repo", default="smlocal", show_default=True,
              help="Local images of the built-in algorithms: <repo>/<algorithm>:latest (and :gpu).")
@click.option("--stop-grace", type=float, default=DEFAULT_STOP_GRACE_SECONDS, show_default=True,
              help="Seconds between SIGTERM and SIGKILL when a job is stopped.")
@click.option("--threads", type=click.IntRange(min=1), default=8, show_default=True,
              help="Request threads of the server's single worker process.")
def api(host, port, home, max_concurrent_jobs, runner, strict_gpu, image_repo, stop_grace, threads) -> None:
    """Serve the SageMaker API (training jobs), CloudWatch Logs and metrics on one port (see docs/api.md)."""
    from emulator.api.server import ApiConfig, serve  # Flask and gunicorn only for this command

    serve(ApiConfig(home=Path(home).absolute() if home else default_home(), host=host, port=port,
                    max_concurrent_jobs=max_concurrent_jobs, runner=runner, strict_gpu=strict_gpu,
                    stop_grace_seconds=stop_grace, image_repo=image_repo, threads=threads))


main.add_command(pretrained)  # smlocal pretrained pull|import|list (emulator/pretrained/cli.py)

if __name__ == "__main__":
    main()
