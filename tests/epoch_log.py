"""The sample count of each training epoch, read back from a job log: `Epoch[N] Time cost=T`
times the epoch's train throughput (`Epoch[N] Throughput=X samples/sec` of image
classification, or the `#throughput_metric: ... train throughput=X records/second` line that
object detection and semantic segmentation log for each epoch, in epoch order)."""
from __future__ import annotations

import re

TIME_COST = re.compile(r"Epoch\[(\d+)\] Time cost=([0-9.]+)")
IC_THROUGHPUT = re.compile(r"Epoch\[(\d+)\] Throughput=([0-9.]+) samples/sec")
METRIC_THROUGHPUT = re.compile(r"train throughput=\(?([0-9.eE+-]+)\)? records/second")


def epoch_samples(log: str) -> dict[int, tuple[float, float]]:
    """epoch -> (throughput × time cost, the error the printed digits allow)."""
    times = {int(e): float(t) for e, t in TIME_COST.findall(log)}
    speeds = {int(e): (float(x), 0.005) for e, x in IC_THROUGHPUT.findall(log)}
    if not speeds:  # one unnumbered line per epoch, printed exactly
        speeds = {e: (float(x), 0.0) for e, x in zip(sorted(times), METRIC_THROUGHPUT.findall(log))}
    assert times and sorted(times) == sorted(speeds), (times, speeds)
    out = {}
    for epoch, seconds in times.items():
        speed, speed_error = speeds[epoch]
        out[epoch] = (speed * seconds, speed_error * seconds + speed * 0.0005 + 1e-6)
    return out


def assert_epoch_samples(log: str, expected: int, epochs: list[int]) -> None:
    counts = epoch_samples(log)
    assert sorted(counts) == epochs, counts
    for epoch, (implied, error) in counts.items():
        assert abs(implied - expected) <= error, f"epoch {epoch}: {implied:.2f} samples logged, {expected} trained"
