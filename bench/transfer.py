"""Part of a model, on real data: does warm_start_mode=transfer help?

Data: scikit-learn's handwritten digits (1797 real 8x8 scans, shipped with the package), upscaled
to 32x32. A source job learns digits 0-4 (num_classes=5). A new job then learns digits 5-9 with
their own labels (num_classes=10, so the classifier head has another shape and is
re-initialised) either from the source job's model.tar.gz with warm_start_mode=transfer or from
scratch; both stop at the first epoch whose validation accuracy reaches the target. Both use the
same hyperparameters, learning_rate=0.01 (a fine-tuning rate; from scratch it learns these digits
as fast as at 0.05, see docs/image-classification.md). The new task has few examples (20 per
digit by default), the case transfer is for. Each seed draws another split of the new digits;
printed: the wall time of each (set-up included) per seed and the median ratio
(target: transfer / scratch <= 0.5).
Run: .venv/bin/python bench/transfer.py [--target 0.9] [--seeds 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from algorithms.image_classification.hyperparameters import SCHEMA  # noqa: E402
from algorithms.image_classification.train import ClassificationJob  # noqa: E402
from container.config import TrainingEnv  # noqa: E402
from container.logs import setup_logging  # noqa: E402
from container.paths import MLPaths  # noqa: E402
from container.stop import StopSignal  # noqa: E402
from emulator.sample_data import encode, pack_record, write_recordio  # noqa: E402
from ic_warm_start import time_to_target  # noqa: E402 - the same stopping rule as the warm-start bench

SIDE = 32
HP = {"num_layers": "18", "image_shape": "3,28,28", "mini_batch_size": "20", "learning_rate": "0.01",
      "augmentation_type": "crop"}
SOURCE_EPOCHS = 8


def digit_image(pixels: np.ndarray) -> np.ndarray:
    """An 8x8 scan (values 0-16) as a SIDE x SIDE RGB image, white digit on black."""
    grey = Image.fromarray((pixels * (255 / 16)).astype(np.uint8)).resize((SIDE, SIDE), Image.BILINEAR)
    return np.repeat(np.asarray(grey)[:, :, None], 3, axis=2)


def write_split(path: Path, images: np.ndarray, labels: np.ndarray) -> int:
    write_recordio(path, (pack_record(int(label), encode(digit_image(image), "PNG"), i)
                          for i, (image, label) in enumerate(zip(images, labels))))
    return len(labels)


def digits_sets(work: Path, classes: range, seed: int, train_per_class: int | None = None) -> dict[str, tuple[Path, int]]:
    """Train and validation RecordIO files of the digits in `classes`, labels kept: 3/4 and 1/4 of
    each class, or `train_per_class` images of each for training and the rest for validation."""
    digits = load_digits()
    rng = np.random.RandomState(seed)
    train, validation = [], []
    for label in classes:
        chosen = rng.permutation(np.flatnonzero(digits.target == label))
        cut = len(chosen) * 3 // 4 if train_per_class is None else train_per_class
        train.extend(chosen[:cut])
        validation.extend(chosen[cut:])
    result = {}
    for name, part in (("train", rng.permutation(train)), ("validation", np.array(validation))):
        path = work / f"{classes.start}-{classes.stop - 1}-{name}.rec"
        result[name] = (path, write_split(path, digits.images[part], digits.target[part]))
    return result


def job_env(base: Path, sets: dict, num_classes: int, epochs: int, model_tar: Path | None,
            mode: str = "strict") -> TrainingEnv:
    data = base / "input" / "data"
    channels = {}
    for name in ("train", "validation"):
        (data / name).mkdir(parents=True)
        (data / name / "data.rec").write_bytes(sets[name][0].read_bytes())
        channels[name] = {"ContentType": "application/x-recordio"}
    if model_tar is not None:
        (data / "model").mkdir()
        (data / "model" / "model.tar.gz").write_bytes(model_tar.read_bytes())
        channels["model"] = {"ContentType": "application/x-sagemaker-model"}
    config = base / "input" / "config"
    config.mkdir(parents=True)
    hp = dict(HP, num_classes=str(num_classes), epochs=str(epochs), num_training_samples=str(sets["train"][1]),
              warm_start_mode=mode)
    (config / "hyperparameters.json").write_text(json.dumps(hp))
    (config / "inputdataconfig.json").write_text(json.dumps(channels))
    return TrainingEnv.read(MLPaths(base))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--max-epochs", type=int, default=30)
    # Transfer matters where the new classes have few examples: by default 20 of each.
    parser.add_argument("--train-per-class", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    setup_logging().setLevel("WARNING")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        first = digits_sets(work, range(0, 5), seed=1)
        env = job_env(work / "source", first, 5, SOURCE_EPOCHS, None)
        source = ClassificationJob(env, SCHEMA.parse(env.hyperparameters), StopSignal())
        source.prepare()
        source.run()
        model_tar = work / "model.tar.gz"
        with tarfile.open(model_tar, "w:gz") as tar:
            for path in env.paths.model.iterdir():
                tar.add(path, arcname=path.name)
        print(f"ResNet-18, 3x28x28, scikit-learn digits: source job on 0-4 ({first['train'][1]} training images, "
              f"{SOURCE_EPOCHS} epochs); new jobs on 5-9 ({args.train_per_class} training images per digit, "
              f"num_classes=10), target validation accuracy {args.target}")
        for seed in range(2, 2 + args.seeds):
            seed_dir = work / f"seed-{seed}"
            seed_dir.mkdir()
            second = digits_sets(seed_dir, range(5, 10), seed=seed, train_per_class=args.train_per_class)
            scratch_s, scratch_epochs, scratch_acc = time_to_target(
                job_env(seed_dir / "scratch", second, 10, args.max_epochs, None), args.target, args.max_epochs)
            transfer_s, transfer_epochs, transfer_acc = time_to_target(
                job_env(seed_dir / "transfer", second, 10, args.max_epochs, model_tar, "transfer"), args.target,
                args.max_epochs)
            ratios.append(transfer_s / scratch_s)
            print(f"  split {seed}: from scratch {scratch_s:6.1f} s ({scratch_epochs} epochs, accuracy "
                  f"{scratch_acc:.3f}); warm_start_mode=transfer {transfer_s:6.1f} s ({transfer_epochs} epochs, "
                  f"accuracy {transfer_acc:.3f}); ratio {ratios[-1]:.2f}")
    print(f"transfer / scratch = {statistics.median(ratios):.2f} median of {len(ratios)} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}; target <= 0.50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
