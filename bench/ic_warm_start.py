"""The point of incremental training: time to reach a target validation accuracy.

A short earlier job (2 epochs on the base data set) left a model. A new job on the extended data
set (base + new images) then trains either from that model (warm start through the `model`
channel) or from scratch; both stop at the first epoch whose validation accuracy reaches the
target. Printed: wall time of each and their ratio (target: warm / scratch <= 0.5).
Run: .venv/bin/python bench/ic_warm_start.py [--target 0.9]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from algorithms.image_classification.hyperparameters import SCHEMA  # noqa: E402
from algorithms.image_classification.train import ClassificationJob  # noqa: E402
from container.config import TrainingEnv  # noqa: E402
from container.logs import setup_logging  # noqa: E402
from container.paths import MLPaths  # noqa: E402
from container.stop import StopSignal  # noqa: E402
from emulator.sample_data import make_classification_set  # noqa: E402

CLASSES = 10
HP = {"num_layers": "18", "num_classes": str(CLASSES), "image_shape": "3,28,28", "resize": "32",
      "mini_batch_size": "32", "learning_rate": "0.05", "augmentation_type": "crop"}


def job_tree(base: Path, train: list[Path], validation: Path, epochs: int, model_tar: Path | None) -> TrainingEnv:
    data = base / "input" / "data"
    (data / "train").mkdir(parents=True)
    for i, rec in enumerate(train):
        shutil.copy(rec, data / "train" / f"part{i}.rec")
    (data / "validation").mkdir()
    shutil.copy(validation, data / "validation" / "data.rec")
    channels = {"train": {"ContentType": "application/x-recordio"},
                "validation": {"ContentType": "application/x-recordio"}}
    if model_tar is not None:
        (data / "model").mkdir()
        shutil.copy(model_tar, data / "model" / "model.tar.gz")
        channels["model"] = {"ContentType": "application/x-sagemaker-model"}
    config = base / "input" / "config"
    config.mkdir(parents=True)
    samples = 64 * CLASSES * len(train)
    (config / "hyperparameters.json").write_text(json.dumps(dict(HP, epochs=str(epochs), num_training_samples=str(samples))))
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    return TrainingEnv.read(MLPaths(base))


def time_to_target(env: TrainingEnv, target: float, max_epochs: int) -> tuple[float, int, float]:
    start = time.perf_counter()
    job = ClassificationJob(env, SCHEMA.parse(env.hyperparameters), StopSignal())
    job.prepare()
    accuracy = 0.0
    for epoch in range(max_epochs):
        job.train_epoch(epoch, StopSignal())
        accuracy = job.validate(epoch)["accuracy"]
        if accuracy >= target:
            return time.perf_counter() - start, epoch + 1, accuracy
    return float("inf"), max_epochs, accuracy


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--max-epochs", type=int, default=20)
    args = parser.parse_args()
    setup_logging().setLevel("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = make_classification_set(work / "base", CLASSES, 64, size=(32, 32), seed=1)["rec"]
        extra = make_classification_set(work / "extra", CLASSES, 64, size=(32, 32), seed=3)["rec"]
        val = make_classification_set(work / "val", CLASSES, 16, size=(32, 32), seed=2)["rec"]
        # The short earlier job: 2 epochs on the base data set.
        env = job_tree(work / "earlier", [base], val, 2, None)
        earlier = ClassificationJob(env, SCHEMA.parse(env.hyperparameters), StopSignal())
        earlier.prepare()
        earlier.run()
        model_tar = work / "model.tar.gz"
        with tarfile.open(model_tar, "w:gz") as tar:
            for path in env.paths.model.iterdir():
                tar.add(path, arcname=path.name)
        scratch_s, scratch_epochs, scratch_acc = time_to_target(
            job_tree(work / "scratch", [base, extra], val, args.max_epochs, None), args.target, args.max_epochs)
        warm_s, warm_epochs, warm_acc = time_to_target(
            job_tree(work / "warm", [base, extra], val, args.max_epochs, model_tar), args.target, args.max_epochs)
    print(f"ResNet-18, 3x28x28, {CLASSES} classes, extended data set of {2 * 64 * CLASSES} images, "
          f"target validation accuracy {args.target}")
    print(f"  from scratch: {scratch_s:7.1f} s ({scratch_epochs} epochs, accuracy {scratch_acc:.3f})")
    print(f"  warm start:   {warm_s:7.1f} s ({warm_epochs} epochs, accuracy {warm_acc:.3f})")
    print(f"warm / scratch = {warm_s / scratch_s:.2f}  (target <= 0.50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
