"""Targets agree with the detection decoder; mAP follows overlap_threshold; log lines match the
built-in's metric regexes."""
import logging
import re

import mxnet as mx
import numpy as np
import pytest
from gluoncv.nn.coder import NormalizedBoxCenterDecoder

from algorithms.object_detection import metrics
from algorithms.object_detection.loss import corner_anchors, ssd_loss
from algorithms.object_detection.network import BOX_STDS

SIDE = 100


def _grid_anchors(size=20):
    """Square anchors of `size` pixels on a 10-pixel grid, as (1, N, 4) centre/size."""
    centres = np.arange(5, SIDE, 10, dtype=np.float32)
    cx, cy = np.meshgrid(centres, centres)
    anchors = np.stack([cx.ravel(), cy.ravel(), np.full(cx.size, size), np.full(cx.size, size)], axis=1)
    return mx.nd.array(anchors[None])


def test_encoded_targets_decode_back_to_the_ground_truth():
    anchors = _grid_anchors()
    truth = np.array([[1, 0.22, 0.31, 0.47, 0.52], [0, 0.6, 0.6, 0.8, 0.85]], dtype=np.float32)
    labels = mx.nd.array(truth[None])
    n = anchors.shape[1]
    cls_preds = mx.nd.zeros((1, n, 3))
    loc_target, loc_mask, cls_target = mx.nd.contrib.MultiBoxTarget(
        corner_anchors(anchors, SIDE), labels, cls_preds.transpose((0, 2, 1)), variances=BOX_STDS)
    positives = np.where(cls_target.asnumpy()[0] > 0)[0]
    assert len(positives) >= 2
    decoded = NormalizedBoxCenterDecoder(BOX_STDS)(loc_target.reshape((1, -1, 4)), anchors).asnumpy()[0] / SIDE
    for index in positives:
        cls = cls_target.asnumpy()[0, index] - 1
        expected = truth[truth[:, 0] == cls][:, 1:]
        assert np.abs(expected - decoded[index]).max(axis=1).min() < 1e-4


def test_loss_is_small_for_the_right_answer_and_large_for_a_wrong_one():
    anchors = _grid_anchors()
    labels = mx.nd.array([[[0, 0.2, 0.2, 0.4, 0.4]]])
    n = anchors.shape[1]
    _, _, cls_target = mx.nd.contrib.MultiBoxTarget(
        corner_anchors(anchors, SIDE), labels, mx.nd.zeros((1, 2, n)), variances=BOX_STDS,
        negative_mining_ratio=-1)
    target = cls_target.asnumpy()[0].astype(int)
    right = np.full((1, n, 2), -10.0, dtype=np.float32)
    right[0, np.arange(n), target] = 10.0
    wrong = -right
    loc_zero = mx.nd.zeros((1, n, 4))
    good, bad = (ssd_loss(mx.nd.array(p), loc_zero, anchors, labels, SIDE) for p in (right, wrong))
    assert float(good.cross_entropy_sum.asscalar()) < 1e-3 < 1.0 < float(bad.cross_entropy_sum.asscalar())
    assert int(good.anchors_used.asscalar()) > 0


def test_map_counts_a_detection_only_above_overlap_threshold():
    labels = np.array([[[0, 0.1, 0.1, 0.5, 0.5]]], dtype=np.float32)
    # Same box shifted right by a quarter of its width: IoU = 0.75 / 1.25 = 0.6.
    detections = np.array([[[0, 0.9, 0.2, 0.1, 0.6, 0.5]]], dtype=np.float32)
    sizes = np.array([[400, 400]], dtype=np.float32)
    scores = []
    for threshold in (0.5, 0.7):
        metric = metrics.MeanAveragePrecision(num_classes=2, overlap_threshold=threshold)
        metric.update(detections, labels, sizes)
        scores.append(metric.get())
    assert scores == pytest.approx([1.0, 0.0])


# The built-in's metric definitions (sagemaker-algorithms.md §2.5, as shown on the SageMaker console).
BUILTIN_REGEXES = {
    "train:progress": r"#progress_metric: host=\S+, completed (\S+) %",
    "train:smooth_l1": r"#quality_metric: host=\S+, epoch=\S+, batch=\S+ train smooth_l1 <loss>=(\S+)",
    "train:cross_entropy": r"#quality_metric: host=\S+, epoch=\S+, batch=\S+ train cross_entropy <loss>=(\S+)",
    "train:throughput": r"#throughput_metric: host=\S+, train throughput=(\S+) records/second",
    "validation:mAP": r"#quality_metric: host=\S+, epoch=\S+, validation mAP <score>=\((\S+)\)",
}


@pytest.fixture
def algorithm_log():
    """Records of the algorithm's logger, each once (whether or not it propagates to root)."""
    logger, records = logging.getLogger("smlocal"), []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_log_lines_give_every_builtin_metric_its_value(algorithm_log):
    metrics.log_train_losses("algo-1", 3, 40, 1.25, 0.0625)
    metrics.log_throughput("algo-1", 12.5)
    metrics.log_validation_map("algo-1", 3, 0.375)
    metrics.log_progress("algo-1", 4, 16)
    text = "\n".join(r.getMessage() for r in algorithm_log)
    found = {name: [float(v) for v in re.findall(regex, text)] for name, regex in BUILTIN_REGEXES.items()}
    assert found == {"train:progress": [25.0], "train:smooth_l1": [0.0625], "train:cross_entropy": [1.25],
                     "train:throughput": [12.5], "validation:mAP": [0.375]}
