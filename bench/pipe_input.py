"""Pipe-mode input for image classification: what reading an epoch from a FIFO costs.

  file      ImageRecordIter on a .rec file (File mode): decoded, cropped batches per second
  spool     what Pipe mode does: copy the FIFO to a .rec file, scan it (labels, image sizes,
            index), then the same ImageRecordIter; the time includes the copy and the scan
  python    the alternative: records read from the FIFO in Python, decoded and centre-cropped
            with OpenCV in a thread pool (no copy, but augmentation would be re-implemented)

and, for scale, a ResNet-18 training step on the same batches (the work an epoch's input feeds).
Run: .venv/bin/python bench/pipe_input.py [--images 8192] [--size 64] [--crop 56]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

from algorithms.common.pipe import PipeChannel  # noqa: E402
from algorithms.common.recordio import read_payloads  # noqa: E402
from algorithms.image_classification import data  # noqa: E402
from algorithms.image_classification.network import classifier  # noqa: E402
from emulator.sample_data import make_classification_set  # noqa: E402

BATCH, CLASSES = 64, 10


class HP(dict):
    __getattr__ = dict.get


def feed(folder: Path, rec: Path) -> threading.Thread:
    """The platform's side: one FIFO train_0 carrying the .rec file."""
    fifo = folder / "train_0"
    os.mkfifo(fifo)

    def run():
        with open(fifo, "wb") as out, open(rec, "rb") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def drain(it) -> int:
    count = 0
    for batch in it:
        batch.data[0].wait_to_read()
        count += batch.data[0].shape[0] - batch.pad
    return count


def file_mode(ds, hp) -> float:
    started = time.perf_counter()
    count = drain(data.train_iterator(ds, hp, BATCH, os.cpu_count(), 0))
    return count / (time.perf_counter() - started)


def spool_mode(rec: Path, hp, work: Path) -> tuple[float, float]:
    folder = Path(tempfile.mkdtemp(dir=work))
    writer = feed(folder, rec)
    started = time.perf_counter()
    local = folder / "epoch0.rec"
    PipeChannel(folder, "train").spool_next(local)
    ds = data.scan(local, "train", hp, folder)
    ready = time.perf_counter() - started
    count = drain(data.train_iterator(ds, hp, BATCH, os.cpu_count(), 0))
    writer.join()
    return count / (time.perf_counter() - started), ready


def python_mode(rec: Path, crop: int, work: Path) -> float:
    folder = Path(tempfile.mkdtemp(dir=work))
    writer = feed(folder, rec)

    def decode(payload: bytes) -> np.ndarray:
        header, image = mx.recordio.unpack(payload)
        img = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
        top, left = (img.shape[0] - crop) // 2, (img.shape[1] - crop) // 2
        return img[top:top + crop, left:left + crop].transpose(2, 0, 1)

    started = time.perf_counter()
    count = 0
    with PipeChannel(folder, "train").open_next() as stream, ThreadPoolExecutor(os.cpu_count()) as pool:
        pending: list[bytes] = []
        for _, payload in read_payloads(stream, "bench"):
            pending.append(payload)
            if len(pending) == BATCH:
                batch = mx.nd.array(np.stack(list(pool.map(decode, pending))))
                batch.wait_to_read()
                count += len(pending)
                pending = []
    writer.join()
    return count / (time.perf_counter() - started)


def training_rate(crop: int, batches: int = 5) -> float:
    module = mx.mod.Module(classifier(18, CLASSES), context=[mx.cpu()])
    shape = (BATCH, 3, crop, crop)
    module.bind(data_shapes=[("data", shape)], label_shapes=[("softmax_label", (BATCH,))])
    module.init_params(mx.init.Xavier())
    module.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.05})
    batch = mx.io.DataBatch([mx.nd.random.uniform(0, 255, shape)], [mx.nd.zeros((BATCH,))])
    module.forward_backward(batch)
    module.update()
    mx.nd.waitall()
    started = time.perf_counter()
    for _ in range(batches):
        module.forward_backward(batch)
        module.update()
    mx.nd.waitall()
    return batches * BATCH / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8192)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--crop", type=int, default=56)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        made = make_classification_set(work / "set", CLASSES, args.images // CLASSES,
                                       size=(args.size, args.size), seed=0)
        rec = made["rec"]
        hp = HP(image_shape=(3, args.crop, args.crop), num_classes=CLASSES, multi_label=0, resize=None,
                augmentation_type=None)
        ds = data.scan(rec, "train", hp, work)
        results = {"images": ds.count, "image_size": args.size, "crop": args.crop,
                   "rec_MB": round(rec.stat().st_size / 1e6, 1), "cpus": os.cpu_count()}
        results["file_img_per_s"] = round(file_mode(ds, hp))
        rate, ready = spool_mode(rec, hp, work)
        results["spool_img_per_s"] = round(rate)
        results["spool_copy_and_scan_s"] = round(ready, 3)
        results["python_img_per_s"] = round(python_mode(rec, args.crop, work))
        results["resnet18_train_img_per_s"] = round(training_rate(args.crop), 1)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
