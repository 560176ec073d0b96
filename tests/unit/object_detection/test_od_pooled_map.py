"""Validation mAP over several hosts: each host's detection records, pooled, give the mAP of the
whole validation set."""
import numpy as np
import pytest

from algorithms.object_detection.metrics import MeanAveragePrecision

NUM_CLASSES = 3


def _batches(seed: int, count: int):
    """`count` single-image batches: ground truth and noisy detections around it (some wrong)."""
    rng = np.random.RandomState(seed)
    batches = []
    for _ in range(count):
        objects = rng.randint(1, 4)
        xy = rng.uniform(0, 0.5, (objects, 2))
        truth = np.concatenate([rng.randint(0, NUM_CLASSES, (objects, 1)), xy, xy + rng.uniform(0.2, 0.5, (objects, 2))],
                               axis=1)
        detections = np.full((10, 6), -1.0)
        for row in range(10):
            source = truth[row % objects]
            cls = source[0] if rng.uniform() < 0.7 else rng.randint(NUM_CLASSES)
            detections[row] = [cls, rng.uniform(), *(source[1:] + rng.normal(0, 0.05, 4))]
        batches.append((detections[None], truth[None].astype(np.float32), np.array([[200.0, 100.0]])))
    return batches


def _metric(batches):
    metric = MeanAveragePrecision(NUM_CLASSES, 0.5)
    for batch in batches:
        metric.update(*batch)
    return metric


def test_pooled_records_of_two_parts_give_the_map_of_the_whole():
    batches = _batches(seed=3, count=12)
    whole = _metric(batches).get()
    assert 0.05 < whole < 0.95  # a score that depends on every detection

    parts = [_metric(batches[:5]).records(), _metric(batches[5:]).records()]
    assert _metric(batches[:5]).get() != pytest.approx(whole)  # a part alone scores differently
    pooled = MeanAveragePrecision(NUM_CLASSES, 0.5)
    pooled.set_records(sum(positives for positives, _ in parts), np.concatenate([rows for _, rows in parts]))
    assert pooled.get() == pytest.approx(whole, abs=1e-12)


def test_records_round_trip_and_an_empty_part_adds_nothing():
    metric = _metric(_batches(seed=4, count=6))
    positives, rows = metric.records()
    assert positives.shape == (NUM_CLASSES,) and rows.shape[1] == 3
    assert set(np.unique(rows[:, 2])) <= {0.0, 1.0}
    empty_positives, empty_rows = MeanAveragePrecision(NUM_CLASSES, 0.5).records()
    assert empty_rows.shape == (0, 3) and not empty_positives.any()
    again = MeanAveragePrecision(NUM_CLASSES, 0.5)
    again.set_records(positives + empty_positives, np.concatenate([rows, empty_rows]))
    assert again.get() == pytest.approx(metric.get(), abs=1e-12)
