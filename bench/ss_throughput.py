"""Semantic-segmentation training throughput, measured side by side in one run.

  ceiling   the same network, loss, optimizer and batch on tensors already in memory
  smlocal   this image's epoch loop (SegmentationJob.train_epoch) on JPEG images + PNG masks,
            with its augmentation and data-loading workers

Run: .venv/bin/python bench/ss_throughput.py [--algorithms fcn,psp,deeplab] [--crop 64] [--batch 4]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mxnet as mx  # noqa: E402
from gluoncv.loss import MixSoftmaxCrossEntropyLoss  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

from algorithms.semantic_segmentation import hyperparameters, network  # noqa: E402
from algorithms.semantic_segmentation.train import SegmentationJob  # noqa: E402
from container.config import TrainingEnv  # noqa: E402
from container.paths import MLPaths  # noqa: E402
from container.stop import StopSignal  # noqa: E402
from emulator.sample_data import make_segmentation_set  # noqa: E402
from tests.jobtree import make_tree  # noqa: E402

CLASSES = 3
WARMUP = 2


def ceiling(algorithm: str, crop: int, batch: int, batches: int) -> float:
    net = network.build(algorithm, "resnet-50", CLASSES, crop, crop, [mx.cpu()])
    net.hybridize(**network.HYBRIDIZE)
    loss_fn = MixSoftmaxCrossEntropyLoss(aux=True, aux_weight=network.AUX_WEIGHT, ignore_label=-1)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.001, "momentum": 0.9, "wd": 1e-4})
    x = mx.nd.random.uniform(shape=(batch, 3, crop, crop))
    y = mx.nd.random.randint(0, CLASSES, (batch, crop, crop)).astype("float32")
    for i in range(WARMUP + batches):
        if i == WARMUP:
            mx.nd.waitall()
            start = time.perf_counter()
        with autograd.record():
            loss = loss_fn(*net(x), y)
        loss.backward()
        trainer.step(batch)
        loss.wait_to_read()
    return batches * batch / (time.perf_counter() - start)


def ours(algorithm: str, crop: int, batch: int, batches: int, work: Path) -> float:
    images = WARMUP * batch + batches * batch
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
    result = job.train_epoch(1, StopSignal())
    return result.throughput


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--algorithms", default="fcn,psp,deeplab")
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--batches", type=int, default=6)
    args = parser.parse_args()
    print(f"ResNet-50, crop {args.crop}, batch {args.batch}, CPU threads: "
          f"{len(__import__('os').sched_getaffinity(0))}; images/s (forward+backward+update)")
    for algorithm in args.algorithms.split(","):
        top = ceiling(algorithm, args.crop, args.batch, args.batches)
        with tempfile.TemporaryDirectory() as tmp:
            got = ours(algorithm, args.crop, args.batch, args.batches, Path(tmp))
        print(f"{algorithm:8s} ceiling {top:6.2f}  smlocal {got:6.2f}  ({got / top:.0%} of ceiling)")


if __name__ == "__main__":
    main()
