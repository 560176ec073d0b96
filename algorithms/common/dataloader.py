"""Gluon data loaders with parallel workers that survive a small /dev/shm.

Worker processes hand batches to the trainer through shared memory (/dev/shm). Docker gives a
container 64 MB by default, and a full /dev/shm makes every worker hang (dmlc/gluon-cv#86,
apache/mxnet#18224). Before starting processes we compare the free space with what the
prefetched batches need; when it is too small the same number of workers runs as threads
(no shared memory) and the log says why and how to get processes back.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet.gluon.data import DataLoader

from container.logs import get_logger

SHM = Path("/dev/shm")
# Batches in flight per worker (Gluon's default prefetch is 2 × workers) times a safety factor
# for the pickled copies the multiprocessing queues hold while a batch changes hands.
_BATCHES_PER_WORKER = 2
_SAFETY = 2


def shm_free_bytes(shm: Path = SHM) -> int:
    try:
        return shutil.disk_usage(shm).free
    except OSError:
        return 0


def use_processes(workers: int, batch_bytes: int, shm: Path = SHM) -> bool:
    """True when `workers` processes fit their prefetched batches into /dev/shm."""
    if workers <= 0:
        return False
    needed = workers * _BATCHES_PER_WORKER * _SAFETY * batch_bytes
    free = shm_free_bytes(shm)
    if free >= needed:
        return True
    get_logger().info(
        "%s has %.0f MB free but %d data-loading worker processes need about %.0f MB of shared memory; "
        "loading data with %d threads instead (start the container with a larger --shm-size to use "
        "processes).", shm, free / 2**20, workers, needed / 2**20, workers)
    return False


def parallel_loader(dataset, batch_size: int, workers: int, batch_bytes: int, shm: Path = SHM,
                    **kwargs) -> DataLoader:
    """A DataLoader with `workers` processes, or threads when /dev/shm is too small for them.

    batch_bytes: the size of one collated batch (all arrays), used to size the shared memory."""
    if workers > 0 and not use_processes(workers, batch_bytes, shm):
        return DataLoader(dataset, batch_size, num_workers=workers, thread_pool=True, **kwargs)
    return DataLoader(dataset, batch_size, num_workers=workers, **kwargs)


def fill_batch(images: mx.nd.NDArray, labels: mx.nd.NDArray, batch_size: int,
               ignore_label: float) -> tuple[mx.nd.NDArray, mx.nd.NDArray, int]:
    """An epoch's short last batch filled up to `batch_size`: (images, labels, real samples).

    Every epoch trains on each sample once (the loaders keep the last batch rather than rolling
    it over into the next epoch), and the networks run with static shapes. The filler repeats
    the batch's own images (so BatchNorm sees real data) with labels that are all
    `ignore_label`, which the losses give no weight: the filler adds no gradient and is never
    counted."""
    count = images.shape[0]
    missing = batch_size - count
    if missing <= 0:
        return images, labels, count
    repeat = mx.nd.array(np.arange(missing) % count, ctx=images.context)
    filler = mx.nd.full((missing,) + labels.shape[1:], ignore_label, ctx=labels.context, dtype=labels.dtype)
    return (mx.nd.concat(images, images.take(repeat), dim=0),
            mx.nd.concat(labels, filler, dim=0), count)
