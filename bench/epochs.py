"""Shared by the throughput benchmarks: a prepared job's epoch loop, timed over whole epochs."""
from __future__ import annotations

from container.stop import StopSignal


def epoch_loop(job, epochs: int, images: int, first: int = 1) -> tuple[float, float]:
    """(images/s, share of the wall time spent waiting for data) of `job.train_epoch` over
    `epochs` epochs from epoch `first`; every epoch must count exactly `images`."""
    results = [job.train_epoch(e, StopSignal()) for e in range(first, first + epochs)]
    samples, wall = sum(r.samples for r in results), sum(r.wall for r in results)
    assert samples == epochs * images, f"{samples} samples trained in {epochs} epochs of {images}"
    return samples / wall, sum(r.data_wait for r in results) / wall


def interleaved(ceiling, loop, rounds: int) -> list[tuple[float, float, float]]:
    """`rounds` pairs (ceiling images/s, loop images/s, loop data-wait share), measured one right
    after the other, so a load that comes and goes on the machine moves both of a pair alike;
    compare the median of the pairs' ratios."""
    pairs = []
    for r in range(rounds):
        top = ceiling()
        got, waiting = loop(r)
        print(f"  round {r + 1}: ceiling {top:8.2f}  loop {got:8.2f}  ratio {got / top:.2f}  "
              f"(data wait {waiting:.0%})", flush=True)
        pairs.append((top, got, waiting))
    return pairs


def median_ratio(pairs) -> float:
    ratios = sorted(got / top for top, got, _ in pairs)
    return ratios[len(ratios) // 2]
