"""`smlocal`: run SageMaker training jobs locally.

    smlocal train --algorithm image-classification --channel train=data/train \\
        --channel validation=data/val --hp num_classes=2 --hp epochs=1
    smlocal stop <job>          smlocal describe <job>          smlocal --home DIR list

The CLI builds the same CreateTrainingJob request the SageMaker API takes (see `--spec`),
validates it with the same code, places it on the same runners and keeps it in the same job
store (`<home>/smlocal.db`), so `smlocal api` on that home serves it too.
"""
from __future__ import annotations

import json
import signal
import sys
from datetime import datetime
from pathlib import Path

import click

from emulator import algorithms
from emulator.cli_refusals import refusals
from emulator.cli_request import CHANNEL_KEYS, build_request
from emulator.jobhome import JobHome, default_home, json_default
from emulator.jobs import Jobs, describe as describe_job
from emulator.jobstate import JobResult, Transition
from emulator.lifecycle import EMULATOR_LOG_SOURCE
from emulator.hosting import cli as hosting_cli
from emulator.pretrained.cli import pretrained
from emulator.tuning.cli import tune
from emulator.runners.base import DEFAULT_STOP_GRACE_SECONDS
from emulator.runners.placement import DEFAULT_IMAGE_REPO, RUNNER_MODES, Placer
from emulator.spec import (
    DEFAULT_CHECKPOINT_LOCAL_PATH, DEFAULT_MAX_RUNTIME_SECONDS, DEFAULT_VOLUME_SIZE_GB, TrainingJobSpec,
)

def runner_options(default_runner: str | None, runner_help: str):
    """The options of runner placement, the same for `train` and `api` (emulator.runners.placement)."""
    options = (
        click.option("--runner", type=click.Choice(RUNNER_MODES), default=default_runner,
                     show_default=default_runner is not None, help=runner_help),
        click.option("--strict-gpu", is_flag=True, help="A GPU instance type on a machine without GPUs fails the "
                                                        "job (default: train on CPU with a warning in the job log)."),
        click.option("--image-repo", default=DEFAULT_IMAGE_REPO, show_default=True,
                     help="Local images of the built-in algorithms: <repo>/<algorithm>:latest (and :gpu)."),
        click.option("--stop-grace", type=float, default=DEFAULT_STOP_GRACE_SECONDS, show_default=True,
                     help="Seconds between SIGTERM and SIGKILL when a job is stopped."),
    )

    def apply(command):
        for option in reversed(options):
            command = option(command)
        return command
    return apply


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


def _print_transition(result: JobResult, transition: Transition) -> None:  # noqa: ARG001
    click.echo(f"{_time(transition.start_time)} {transition.status} - {transition.message}")


def _log_printer(host_count: int):
    def emit(host: str, line: str) -> None:
        if host == EMULATOR_LOG_SOURCE:
            return  # the emulator's own notes go to job.log; transitions are printed separately
        click.echo(f"[{host}] {line}" if host_count > 1 else line)
    return emit


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False),
              help="Job home: the job store <home>/smlocal.db and the jobs' folders (default $SMLOCAL_HOME or "
                   "~/.smlocal).")
@click.pass_context
def main(ctx: click.Context, home: str | None) -> None:
    """Run SageMaker training jobs on this machine."""
    ctx.obj = Jobs(JobHome(Path(home).absolute() if home else default_home()))  # the store opens on first use


@main.command()
@click.option("--spec", type=click.Path(dir_okay=False), help="A whole CreateTrainingJob request (JSON); flags override it.")
@click.option("--job-name", "--name", "job_name", help="Default: <algorithm>-YYYY-MM-DD-HH-MM-SS-mmm.")
@click.option("--algorithm", help="Algorithm to run (AlgorithmName): image-classification, object-detection, "
                                  "semantic-segmentation, or one an installation adds.")
@click.option("--hp", multiple=True, metavar="KEY=VALUE", help="Hyperparameter (repeatable).")
@click.option("--hyperparameters", type=click.Path(dir_okay=False), help="JSON object of hyperparameters.")
@click.option("--channel", multiple=True, metavar="NAME=PATH[,OPT=VALUE...]",
              help="Input channel from a local path, file:// or s3:// URI. Options: " + ", ".join(CHANNEL_KEYS)
              + " (attribute_names separated by ';').")
@click.option("--input-data-config", type=click.Path(dir_okay=False), help="JSON list of channels (InputDataConfig).")
@click.option("--input-mode", default="File", show_default=True,
              help="TrainingInputMode: File, Pipe or FastFile (channels may override it).")
@click.option("--model-uri", help="model.tar.gz of an earlier job: becomes the 'model' channel (incremental training).")
@click.option("--output-path", help="S3OutputPath (local path or URI). Default: <home>/output.")
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
@click.option("--image", help="TrainingImage: a Docker image to run instead of a built-in algorithm.")
@runner_options(None, "process: this project's code as local processes (the default); docker: the image "
                      "(the default with --image; a built-in's is <image-repo>/<algorithm>); auto: Docker when an "
                      "engine answers and the image exists, else processes.")
@click.option("--dry-run", is_flag=True, help="Print the CreateTrainingJob request and exit.")
@click.pass_context
def train(ctx: click.Context, **opts) -> None:
    """Run one training job and wait for it to end (Ctrl-C stops it, a second Ctrl-C kills it)."""
    jobs: Jobs = ctx.obj
    if opts["algorithm"] and opts["algorithm"] not in algorithms.names():
        raise click.BadParameter(f"'{opts['algorithm']}' is not one of {', '.join(algorithms.names())}",
                                 param_hint="--algorithm")
    request = build_request(ctx, opts, jobs.home)
    if opts["dry_run"]:
        click.echo(json.dumps(request, indent=2))
        return
    with refusals():
        spec = TrainingJobSpec.from_request(request)
        placer = Placer(opts["runner"] or ("docker" if opts["image"] else "process"), strict_gpu=opts["strict_gpu"],
                        image_repo=opts["image_repo"], stop_grace_seconds=opts["stop_grace"])
        placement = placer.place(spec)
        click.echo(f"Training job {spec.name} ({jobs.home.job(spec.name).root})")
        job = jobs.submit(spec, placement, stop_grace_seconds=opts["stop_grace"], max_hosts=opts["max_hosts"],
                          busy_hosts=jobs.busy_hosts(), on_transition=_print_transition,
                          on_log=_log_printer(spec.instance_count))
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


@main.command()
@click.argument("job_name")
@click.pass_obj
def stop(jobs: Jobs, job_name: str) -> None:
    """Stop a running job (SIGTERM, grace period, SIGKILL); it ends Stopped with its artifacts."""
    with refusals():
        jobs.stop(job_name)
    click.echo(f"Stop requested for {job_name}.")


@main.command()
@click.argument("job_name")
@click.pass_obj
def describe(jobs: Jobs, job_name: str) -> None:
    """Print the job as DescribeTrainingJob answers for it (JSON)."""
    with refusals():
        described = describe_job(jobs.get(job_name))
    click.echo(json.dumps(described, indent=2, default=json_default))


@main.command(name="list")
@click.pass_obj
def list_jobs(jobs: Jobs) -> None:
    """List the jobs of the job home, newest first, whichever front end started them."""
    with refusals():
        jobs.settle_all()
        found = jobs.store.list_jobs(limit=-1)
    for stored in found:
        created = stored.state["creation_time"][:19].replace("T", " ")
        click.echo(f"{created}  {stored.status:<10} {stored.state['secondary_status']:<18} {stored.name}")


@main.command()
@click.argument("job_name")
@click.pass_obj
def delete(jobs: Jobs, job_name: str) -> None:
    """Delete a finished job: its record and its folder (its artifacts under the output path stay)."""
    with refusals():
        job_dir = jobs.delete(job_name)
    click.echo(f"Deleted {job_dir.root}.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Before 0.0.0.0 (every interface), configure credentials "
                   "(--access-key/--secret-key): without them the API checks no signatures.")
@click.option("--port", type=int, default=8777, show_default=True)
@click.option("--access-key", help="Requests must be signed (SigV4) with this access key and --secret-key "
                                   "(default: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when set, else no check).")
@click.option("--secret-key", help="The secret key of --access-key.")
@click.option("--allow-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="A Host name accepted besides localhost and the bind address (repeatable; see docs/security.md).")
@click.option("--max-concurrent-jobs", type=click.IntRange(min=1),
              help="Hosts that train at once (a job takes one per instance); later jobs wait (InProgress / "
                   "Starting). Default: this machine's host limit (see --max-hosts of train).")
@runner_options("auto", "auto: Docker when an engine answers and the image exists, else local processes for the "
                        "built-in algorithms; docker/process force one.")
@click.option("--threads", type=click.IntRange(min=1), default=8, show_default=True,
              help="Request threads of the server's single worker process.")
@click.pass_obj
def api(jobs: Jobs, **opts) -> None:
    """Serve the SageMaker API, CloudWatch Logs and metrics on one port (see docs/api.md), over the job home's store."""
    from emulator.api.server import ApiConfig, serve  # Flask and gunicorn only for this command

    serve(ApiConfig(home=jobs.home.root, stop_grace_seconds=opts.pop("stop_grace"),
                    allowed_hosts=tuple(opts.pop("allowed_hosts")), **opts))


main.add_command(pretrained)  # smlocal pretrained pull|import|list (emulator/pretrained/cli.py)
# smlocal serve | endpoints | transform (emulator/hosting/cli.py)
for command in (hosting_cli.serve, hosting_cli.endpoints, hosting_cli.transform):
    main.add_command(command)
main.add_command(tune)  # smlocal tune --spec FILE (emulator/tuning/cli.py)

if __name__ == "__main__":
    main()
