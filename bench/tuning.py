"""Tuning on a real small data set: Bayesian vs Random at the same budget, and what early stopping saves.

Image classification (ResNet-18, 3x28x28, a small generated data set), tuned over learning_rate
(log) and mini_batch_size by the emulator's own tuning service (emulator.tuning, Optuna) with
training jobs on the process runner, as `smlocal tune` runs them. Printed per seed: the best
validation:accuracy after N jobs of each strategy; the job-seconds of Random with
TrainingJobEarlyStoppingType Auto and Off (same seed, so the same proposals) and their best.
Targets (issue): Bayesian >= Random (median over seeds); Auto saves >= 30 % of job-seconds and
loses <= 0.01 of best accuracy.
Run: .venv/bin/python bench/tuning.py [--jobs 6] [--seeds 1] [--epochs 4] [--images-per-class 16]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator.api.service import ServiceOptions, TrainingService  # noqa: E402
from emulator.jobhome import JobHome  # noqa: E402
from emulator.jobs import Jobs  # noqa: E402
from emulator.runners.placement import Placer  # noqa: E402
from emulator.sample_data import make_classification_set  # noqa: E402
from emulator.tuning.service import TuningService  # noqa: E402

CLASSES = 4


def request(name: str, data: dict, output: Path, strategy: str, jobs: int, seed: int, epochs: int,
            early_stopping: str) -> dict:
    def channel(channel_name: str, rec: Path) -> dict:
        return {"ChannelName": channel_name, "ContentType": "application/x-recordio",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": rec.parent.as_uri()}}}
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy, "RandomSeed": seed, "TrainingJobEarlyStoppingType": early_stopping,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "learning_rate", "MinValue": "0.001", "MaxValue": "0.5",
                                               "ScalingType": "Logarithmic"}],
                "IntegerParameterRanges": [{"Name": "mini_batch_size", "MinValue": "8", "MaxValue": "32"}]}},
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"AlgorithmName": "image-classification", "TrainingInputMode": "File"},
            "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "StaticHyperParameters": {"num_layers": "18", "num_classes": str(CLASSES), "image_shape": "3,28,28",
                                      "num_training_samples": str(data["train_count"]), "epochs": str(epochs)},
            "InputDataConfig": [channel("train", data["train"]), channel("validation", data["validation"])],
            "OutputDataConfig": {"S3OutputPath": output.as_uri()},
            "ResourceConfig": {"InstanceType": "local", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600}},
    }


def run(tuning: TuningService, body: dict) -> tuple[float, float]:
    """(best validation:accuracy, job-seconds) of one tuning job."""
    name = body["HyperParameterTuningJobName"]
    tuning.create(body)
    tuning.loops[name].join()
    described = tuning.describe(name)
    best = described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    seconds = sum((s["TrainingEndTime"] - s["TrainingStartTime"]).total_seconds() for s in tuning.summaries(name)
                  if "TrainingEndTime" in s and "TrainingStartTime" in s)
    return best, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=4)
    # Early stopping saves epochs, so it shows where epochs, not the job's start, take the time.
    parser.add_argument("--images-per-class", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        train = make_classification_set(root / "train", CLASSES, args.images_per_class, size=(32, 32), seed=1)
        validation = make_classification_set(root / "validation", CLASSES, max(8, args.images_per_class // 4), size=(32, 32), seed=2)
        data = {"train_count": CLASSES * args.images_per_class}
        for channel_name, made in (("train", train), ("validation", validation)):
            folder = root / "channels" / channel_name  # the .rec alone, as a channel holds it
            folder.mkdir(parents=True)
            data[channel_name] = Path(shutil.copy(made["rec"], folder / f"{channel_name}.rec"))
        jobs = Jobs(JobHome(root / "home"))
        training = TrainingService(jobs, Placer("process"), ServiceOptions(max_concurrent_jobs=1))
        tuning = TuningService(training, 1, "us-east-1", "123456789012")
        rows = []
        for seed in range(args.seeds):
            figures = {}
            for label, strategy, stopping in (("bayesian", "Bayesian", "Off"), ("random", "Random", "Off"),
                                              ("random-auto", "Random", "Auto")):
                figures[label] = run(tuning, request(f"{label}-{seed}", data, root / "output", strategy, args.jobs,
                                                     seed, args.epochs, stopping))
            rows.append(figures)
            print(f"seed {seed}: best after {args.jobs} jobs: Bayesian {figures['bayesian'][0]:.3f}, Random "
                  f"{figures['random'][0]:.3f}; early stopping Auto: {figures['random-auto'][1]:.0f} job-s "
                  f"(best {figures['random-auto'][0]:.3f}) vs Off {figures['random'][1]:.0f} job-s", flush=True)
        bayes = statistics.median(r["bayesian"][0] for r in rows)
        random_best = statistics.median(r["random"][0] for r in rows)
        saving = statistics.median(1 - r["random-auto"][1] / r["random"][1] for r in rows)
        loss = statistics.median(r["random"][0] - r["random-auto"][0] for r in rows)
        print(f"median over {len(rows)} seed(s): Bayesian {bayes:.3f} vs Random {random_best:.3f} "
              f"({'>=' if bayes >= random_best else '<'}); early stopping saves {saving:.0%} of job-seconds, "
              f"best accuracy {loss:+.3f} lower")
        training.shutdown()


if __name__ == "__main__":
    main()
