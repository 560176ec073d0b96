"""`smlocal tune --spec FILE`: run a hyperparameter tuning job in this process and wait for it.

The spec is a CreateHyperParameterTuningJob request (JSON), checked against botocore's model
and then as the API checks it; the training jobs go to the same job home and store, so `smlocal
api` on that home lists, describes and stops the tuning job and its training jobs meanwhile.
Ctrl-C stops the tuning job (its training jobs end Stopped).
"""
from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import click

from emulator.cli_refusals import refusals
from emulator.jobs import Jobs
from emulator.runners.base import DEFAULT_STOP_GRACE_SECONDS
from emulator.runners.placement import RUNNER_MODES, Placer
from emulator.spec import TRAINING_RULES
from emulator.validation import operation_model, parse_input

POLL_SECONDS = 2.0


def _progress(described: dict) -> str:
    counts = described["TrainingJobStatusCounters"]
    line = (f"{described['HyperParameterTuningJobStatus']}: " +
            ", ".join(f"{n} {k}" for k, n in counts.items() if n))
    best = described.get("BestTrainingJob")
    if best:
        metric = best["FinalHyperParameterTuningJobObjectiveMetric"]
        line += (f"; best {best['TrainingJobName']} {metric['MetricName']}={metric['Value']:g} "
                 f"{json.dumps(best['TunedHyperParameters'])}")
    return line


@click.command()
@click.option("--spec", required=True, type=click.Path(dir_okay=False, exists=True),
              help="A CreateHyperParameterTuningJob request (JSON).")
@click.option("--runner", type=click.Choice(RUNNER_MODES), default="process", show_default=True,
              help="How the training jobs run (as for smlocal train).")
@click.option("--max-concurrent-jobs", type=click.IntRange(min=1),
              help="Hosts that train at once (default: what the machine runs); bounds MaxParallelTrainingJobs.")
@click.option("--stop-grace", type=float, default=DEFAULT_STOP_GRACE_SECONDS, show_default=True,
              help="Seconds between SIGTERM and SIGKILL when a training job is stopped.")
@click.pass_obj
def tune(jobs: Jobs, spec: str, runner: str, max_concurrent_jobs: int | None, stop_grace: float) -> None:
    """Run one hyperparameter tuning job and wait for it to end (Ctrl-C stops it)."""
    # Here, not at the top: the CLI's other commands need neither Optuna nor Flask.
    from emulator.api.server import concurrent_hosts
    from emulator.api.service import ServiceOptions, TrainingService
    from emulator.api.tags_ops import parse_tags
    from emulator.tuning.service import TuningService

    try:
        request = json.loads(Path(spec).read_text())
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{spec} is not valid JSON: {exc}", param_hint="--spec") from exc
    with refusals():
        params = parse_input(request, operation_model("sagemaker", "CreateHyperParameterTuningJob").input_shape,
                             TRAINING_RULES)  # what the API checks it with (local paths, instance types)
        options = ServiceOptions(max_concurrent_jobs=concurrent_hosts(max_concurrent_jobs),
                                 stop_grace_seconds=stop_grace)
        training = TrainingService(jobs, Placer(runner, stop_grace_seconds=stop_grace), options)
        tuning = TuningService(training, training.slots.slots, options.region, options.account)
        name = params["HyperParameterTuningJobName"]
        tags = parse_tags(params.get("Tags"), "tuning job")
        click.echo(f"Tuning job {name}: {tuning.create(params, tags)}")

    def on_signal(signum, frame):  # noqa: ARG001
        click.echo(f"\nStopping tuning job {name}.", err=True)
        tuning.stop(name)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    shown = None
    try:
        loop = tuning.loops[name]
        while True:
            loop.join(POLL_SECONDS)
            described = tuning.describe(name)
            line = _progress(described)
            if line != shown:
                click.echo(line)
                shown = line
            if described["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"):
                break
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        training.shutdown()
    described = tuning.describe(name)
    if described.get("FailureReason"):
        click.echo(f"FailureReason: {described['FailureReason']}", err=True)
    sys.exit(1 if described["HyperParameterTuningJobStatus"] == "Failed" else 0)
