"""Semantic-segmentation training throughput, measured side by side in one run.

  ceiling   the job's own network, loss, trainer and batch on tensors already in memory
  smlocal   this image's epoch loop (SegmentationJob.train_epoch) on JPEG images + PNG masks,
            with its augmentation and data-loading workers

Run: .venv/bin/python bench/ss_throughput.py [--algorithms fcn,psp,deeplab] [--crop 64] [--batch 4] [--images 26]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mxnet as mx  # noqa: E402
from mxnet import autograd  # noqa: E402

from algorithms.semantic_segmentation import hyperparameters  # noqa: E402
from algorithms.semantic_segmentation.train import SegmentationJob  # noqa: E402
from bench.epochs import epoch_loop, interleaved, median_ratio  # noqa: E402
from container.config import TrainingEnv  # noqa: E402
from container.paths import MLPaths  # noqa: E402
from container.stop import StopSignal  # noqa: E402
from emulator.sample_data import make_segmentation_set  # noqa: E402
from tests.jobtree import make_tree  # noqa: E402

CLASSES = 3
WARMUP = 2


def ceiling(job: SegmentationJob, batches: int) -> float:
    """The job's own network, loss and trainer stepping on one batch already in memory: the loop
    body of train_epoch without the input pipeline (same shapes, dtype and threads)."""
    images, labels = next(iter(job.train_loader))
    images, labels = images.as_in_context(job.contexts[0]), labels.as_in_context(job.contexts[0])
    for i in range(WARMUP + batches):
        if i == WARMUP:
            mx.nd.waitall()
            start = time.perf_counter()
        with autograd.record():
            loss = job.loss(*job.net(images), labels)
        loss.backward()
        job.trainer.step(images.shape[0])
        float(loss.sum().asscalar())  # what train_epoch reads after every step
    return batches * images.shape[0] / (time.perf_counter() - start)


def prepared_job(algorithm: str, crop: int, batch: int, images: int, work: Path) -> SegmentationJob:
    data = make_segmentation_set(work / "data", CLASSES, images, size=(120, 160), seed=1)
    val = make_segmentation_set(work / "val", CLASSES, 2, size=(120, 160), seed=2)
    hp = {"num_classes": CLASSES, "num_training_samples": images, "mini_batch_size": batch, "epochs": 1,
          "crop_size": crop, "base_size": 2 * crop, "use_pretrained_model": "False", "algorithm": algorithm}
    channels = {"train": {"files": sorted(data["images"].iterdir())},
                "train_annotation": {"files": sorted(data["annotations"].iterdir())},
                "validation": {"files": sorted(val["images"].iterdir())},
                "validation_annotation": {"files": sorted(val["annotations"].iterdir())}}
    tree = make_tree(work / "job", hp, channels)
    env = TrainingEnv.read(MLPaths(tree.base))
    job = SegmentationJob(env, hyperparameters.parse(env.hyperparameters), StopSignal())
    job.prepare()
    job.train_epoch(0, StopSignal())  # warm-up epoch: graph build and worker start
    return job


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--algorithms", default="fcn,psp,deeplab")
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--images", type=int, default=24, 
                        help="per epoch (a multiple of the batch: a short last batch costs a full step)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved ceiling/loop rounds")
    args = parser.parse_args()
    print(f"ResNet-50, crop {args.crop}, batch {args.batch}, {args.images} images/epoch, CPU threads: "
          f"{len(__import__('os').sched_getaffinity(0))}; images/s (forward+backward+update)")
    for algorithm in args.algorithms.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            job = prepared_job(algorithm, args.crop, args.batch, args.images, Path(tmp))
            print(algorithm)
            pairs = interleaved(lambda: ceiling(job, 6), lambda r: epoch_loop(job, 1, args.images, first=r + 1),
                                args.rounds)
        print(f"{algorithm:8s} smlocal / ceiling = {median_ratio(pairs):.2f} (median of {args.rounds} rounds)")

if __name__ == "__main__":
    main()
