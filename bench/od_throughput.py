"""Object-detection training throughput, measured side by side in one run.

  ceiling   the job's own SSD network, loss and trainer stepping on one batch already in memory:
            the loop body of DetectionJob.train_epoch without the input pipeline
  smlocal   this image's epoch loop on RecordIO, with the built-in's augmentation

Run: .venv/bin/python bench/od_throughput.py [--base resnet-50] [--side 300] [--batch 4] [--images 16] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mxnet as mx  # noqa: E402
from mxnet import autograd  # noqa: E402

from algorithms.common.dataloader import fill_batch  # noqa: E402
from algorithms.object_detection import data  # noqa: E402
from algorithms.object_detection.hyperparameters import SCHEMA  # noqa: E402
from algorithms.object_detection.loss import ssd_loss  # noqa: E402
from algorithms.object_detection.train import DetectionJob  # noqa: E402
from bench.epochs import epoch_loop, interleaved, median_ratio  # noqa: E402
from container.config import TrainingEnv  # noqa: E402
from container.paths import MLPaths  # noqa: E402
from container.stop import StopSignal  # noqa: E402
from emulator.sample_data import make_detection_set  # noqa: E402
from tests.jobtree import make_tree  # noqa: E402

CLASSES = 3
WARMUP = 2


def prepared_job(base: str, side: int, batch: int, images: int, work: Path) -> DetectionJob:
    train = make_detection_set(work / "train", CLASSES, images, seed=1)
    val = make_detection_set(work / "val", CLASSES, 2, seed=2)
    hp = {"base_network": base, "num_classes": CLASSES, "num_training_samples": images, "mini_batch_size": batch,
          "epochs": 1, "image_shape": side, "use_pretrained_model": 0}
    channels = {"train": {"files": [train["rec"]], "content_type": "application/x-recordio"},
                "validation": {"files": [val["rec"]], "content_type": "application/x-recordio"}}
    tree = make_tree(work / "job", hp, channels)
    env = TrainingEnv.read(MLPaths(tree.base))
    job = DetectionJob(env, SCHEMA.parse(env.hyperparameters), StopSignal())
    job.prepare()
    job.train_epoch(0, StopSignal())  # warm-up epoch: graph build, MKLDNN primitives
    return job


def ceiling(job: DetectionJob, batches: int) -> float:
    images, labels, count = fill_batch(*next(iter(job.train_loader)), job.hp.mini_batch_size, data.PADDING_CLASS)
    images, labels = images.as_in_context(job.contexts[0]), labels.as_in_context(job.contexts[0])
    for i in range(WARMUP + batches):
        if i == WARMUP:
            mx.nd.waitall()
            start = time.perf_counter()
        with autograd.record():
            loss = ssd_loss(*job.net(images), labels, job.hp.image_shape)
        autograd.backward([loss.loss])
        job.trainer.step(1)
        float(loss.cross_entropy_sum.asscalar())  # what train_epoch reads after every step
        mx.nd.waitall()
    return batches * count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="resnet-50")
    parser.add_argument("--side", type=int, default=300)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--images", type=int, default=16, 
                        help="per epoch (a multiple of the batch: a short last batch costs a full step)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved ceiling/loop rounds")
    args = parser.parse_args()
    print(f"SSD {args.base} at {args.side}, batch {args.batch}, {args.images} images/epoch, CPU threads: "
          f"{len(os.sched_getaffinity(0))}; images/s (forward+backward+update)")
    with tempfile.TemporaryDirectory() as tmp:
        job = prepared_job(args.base, args.side, args.batch, args.images, Path(tmp))
        pairs = interleaved(lambda: ceiling(job, 4), lambda r: epoch_loop(job, 1, args.images, first=r + 1),
                            args.rounds)
    print(f"smlocal / ceiling = {median_ratio(pairs):.2f} (median of {args.rounds} interleaved rounds)")

if __name__ == "__main__":
    main()
