"""Shared by the throughput benchmarks: a prepared job's epoch loop, timed over whole epochs."""
from __future__ import annotations

from container.stop import StopSignal


def epoch_loop(job, epochs: int, images: int) -> tuple[float, float]:
    """(images/s, share of the wall time spent waiting for data) of `job.train_epoch` over
    `epochs` epochs after the warm-up one; every epoch must count exactly `images`."""
    results = [job.train_epoch(e, StopSignal()) for e in range(1, epochs + 1)]
    samples, wall = sum(r.samples for r in results), sum(r.wall for r in results)
    assert samples == epochs * images, f"{samples} samples trained in {epochs} epochs of {images}"
    return samples / wall, sum(r.data_wait for r in results) / wall
