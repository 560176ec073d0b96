"""Image-classification training throughput, measured side by side in one run.

  ceiling   the job's own module stepping on one batch already in memory (no input pipeline):
            the true upper bound of the loop (same network, batch, dtype, threads, metric)
  smlocal   this image's training loop on RecordIO in File mode (ClassificationJob.train_epoch)
  baseline  plain MXNet: Module.fit + ImageRecordIter with the same augmentation

Target (ResNet-18, 3x32x32, batch 128, CPU): smlocal >= 0.90 x ceiling and >= 1.0 x baseline.
Run: .venv/bin/python bench/ic_throughput.py [--batches 40] [--layers 18]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mxnet as mx  # noqa: E402

from algorithms.common import devices  # noqa: E402
from algorithms.image_classification import data, metrics  # noqa: E402
from algorithms.image_classification.network import classifier  # noqa: E402
from algorithms.image_classification.train import ClassificationJob  # noqa: E402
from algorithms.image_classification.hyperparameters import SCHEMA  # noqa: E402
from bench.epochs import epoch_loop, interleaved, median_ratio  # noqa: E402
from container.config import TrainingEnv  # noqa: E402
from container.paths import MLPaths  # noqa: E402
from container.stop import StopSignal  # noqa: E402
from emulator.sample_data import make_classification_set  # noqa: E402

BATCH, SHAPE, CLASSES = 128, (3, 32, 32), 10
IMAGES = 5100  # 40 batches, the last one 124 images short: counts must still be exact


def ceiling(job: ClassificationJob, batches: int) -> float:
    """The job's own module (same network, batch, dtype, threads, metric, optimizer) stepping on
    one batch already in memory: the loop body of train_epoch without the input pipeline."""
    batch = next(iter(data.train_iterator(job.train_ds, job.hp, BATCH, devices.cpu_threads(), 0)))
    metric = mx.metric.Accuracy()
    for i in range(5 + batches):
        if i == 5:
            mx.nd.waitall()
            start = time.perf_counter()
        job.module.forward_backward(batch)
        job.module.update()
        metrics.update_trimmed(metric, batch.label, job.module.get_outputs(), batch.pad)
        mx.nd.waitall()
    return batches * BATCH / (time.perf_counter() - start)


def prepared_job(layers: int, rec: Path, val_rec: Path, work: Path) -> ClassificationJob:
    base = work / "ml"
    for name, src in (("train", rec), ("validation", val_rec)):
        (base / "input" / "data" / name).mkdir(parents=True)
        (base / "input" / "data" / name / "data.rec").symlink_to(src)
    config = base / "input" / "config"
    config.mkdir(parents=True)
    (config / "inputdataconfig.json").write_text(json.dumps({
        "train": {"ContentType": "application/x-recordio"}, "validation": {"ContentType": "application/x-recordio"}}))
    (config / "hyperparameters.json").write_text(json.dumps({
        "num_layers": str(layers), "num_classes": str(CLASSES), "num_training_samples": str(IMAGES),
        "image_shape": ",".join(map(str, SHAPE)), "mini_batch_size": str(BATCH), "learning_rate": "0.05",
        "augmentation_type": "crop"}))
    env = TrainingEnv.read(MLPaths(base))
    job = ClassificationJob(env, SCHEMA.parse(env.hyperparameters), StopSignal())
    job.prepare()
    job.train_epoch(0, StopSignal())  # warm-up epoch (allocation, MKLDNN primitive creation)
    return job


def baseline(layers: int, rec: Path, epochs: int) -> float:
    it = mx.io.ImageRecordIter(path_imgrec=str(rec), data_shape=SHAPE, batch_size=BATCH, shuffle=True,
                               rand_crop=True, rand_mirror=True)
    module = mx.mod.Module(classifier(layers, CLASSES), context=[mx.cpu()])
    times = []

    def epoch_end(epoch, *_):
        mx.nd.waitall()
        times.append(time.perf_counter())

    times.append(None)
    module.fit(it, num_epoch=1, optimizer="sgd", initializer=mx.init.Xavier(),
               optimizer_params={"learning_rate": 0.05, "momentum": 0.9, "wd": 1e-4})  # warm-up epoch
    mx.nd.waitall()
    start = time.perf_counter()
    trained = []  # what MXNet says each batch held (it may be wrong: see train_iterator)
    it.reset()
    module.fit(it, begin_epoch=1, num_epoch=1 + epochs, optimizer="sgd", force_init=False,
               optimizer_params={"learning_rate": 0.05, "momentum": 0.9, "wd": 1e-4},
               batch_end_callback=lambda p: trained.append(BATCH - p.locals["data_batch"].pad))
    mx.nd.waitall()
    print(f"  baseline reported {sum(trained)} samples for {epochs} epochs of {IMAGES}")
    return sum(trained) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layers", type=int, default=18)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs of the baseline")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved ceiling/loop rounds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train = make_classification_set(work / "train", CLASSES, IMAGES // CLASSES, size=SHAPE[1:], seed=1)
        val = make_classification_set(work / "val", CLASSES, 16, size=SHAPE[1:], seed=2)
        print(f"ResNet-{args.layers}, {SHAPE}, batch {BATCH}, {IMAGES} images/epoch, CPU")
        job = prepared_job(args.layers, train["rec"], val["rec"], work)
        pairs = interleaved(lambda: ceiling(job, 20), lambda r: epoch_loop(job, 1, IMAGES, first=r + 1),
                            args.rounds)
        mine = sorted(got for _, got, _ in pairs)[len(pairs) // 2]
        ratio = median_ratio(pairs)
        base = baseline(args.layers, train["rec"], args.epochs)
        print(f"  baseline {base:8.1f} images/s (Module.fit + ImageRecordIter)")
        print(f"smlocal / ceiling  = {ratio:.2f}  (median of {args.rounds} interleaved rounds; target >= 0.90)")
        print(f"smlocal / baseline = {mine / base:.2f}  (target >= 1.00)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
