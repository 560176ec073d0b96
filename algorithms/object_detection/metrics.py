"""Validation mAP (VOC-style) and the built-in's metric log lines.

The console metric definitions of the built-in (sagemaker-algorithms.md §2.5) match these lines:
  train:progress       #progress_metric: host=\\S+, completed (\\S+) %
  train:smooth_l1      #quality_metric: host=\\S+, epoch=\\S+, batch=\\S+ train smooth_l1 <loss>=(\\S+)
  train:cross_entropy  #quality_metric: host=\\S+, epoch=\\S+, batch=\\S+ train cross_entropy <loss>=(\\S+)
  train:throughput     #throughput_metric: host=\\S+, train throughput=(\\S+) records/second
  validation:mAP       #quality_metric: host=\\S+, epoch=\\S+, validation mAP <score>=\\((\\S+)\\)
"""
from __future__ import annotations

import math

import numpy as np
from gluoncv.utils.metrics.voc_detection import VOC07MApMetric

from container.errors import AlgorithmError
from container.logs import get_logger


def log_train_losses(host: str, epoch: int, batch: int, cross_entropy: float, smooth_l1: float) -> None:
    log = get_logger()
    log.info("#quality_metric: host=%s, epoch=%d, batch=%d train cross_entropy <loss>=%s",
             host, epoch, batch, _number(cross_entropy))
    log.info("#quality_metric: host=%s, epoch=%d, batch=%d train smooth_l1 <loss>=%s",
             host, epoch, batch, _number(smooth_l1))


def log_throughput(host: str, records_per_second: float) -> None:
    get_logger().info("#throughput_metric: host=%s, train throughput=%s records/second",
                      host, _number(records_per_second))


def log_validation_map(host: str, epoch: int, value: float) -> None:
    get_logger().info("#quality_metric: host=%s, epoch=%d, validation mAP <score>=(%s)", host, epoch, _number(value))


def log_progress(host: str, epochs_done: int, epochs: int) -> None:
    get_logger().info("#progress_metric: host=%s, completed %s %% of epochs", host,
                      _number(100.0 * epochs_done / epochs))


def _number(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.6g}"


class MeanAveragePrecision:
    """PASCAL VOC 2007 11-point mAP over classes that occur in the validation set, with a
    detection counted as correct at IoU >= overlap_threshold (GluonCV's VOC07MApMetric, the
    metric mxnet-ssd evaluates with). Boxes are compared in the original image's pixels."""

    def __init__(self, num_classes: int, overlap_threshold: float):
        self.num_classes = num_classes
        self._metric = VOC07MApMetric(iou_thresh=overlap_threshold,
                                      class_names=[str(c) for c in range(num_classes)])

    def reset(self) -> None:
        self._metric.reset()

    def update(self, detections: np.ndarray, labels: np.ndarray, sizes: np.ndarray) -> None:
        """detections (B, K, 6) [cls, score, box ratios]; labels (B, M, 5) [cls, box ratios],
        padding -1; sizes (B, 2) original (width, height)."""
        scale = np.concatenate([sizes, sizes], axis=1)[:, None, :]  # (B, 1, 4): w, h, w, h
        self._metric.update(detections[:, :, 2:6] * scale, detections[:, :, 0], detections[:, :, 1],
                            labels[:, :, 1:5] * scale, labels[:, :, 0])

    def get(self) -> float:
        _, values = self._metric.get()
        return float(values[-1])

    # The state below is VOCMApMetric's (gluoncv 0.10.5, pinned): per class the number of
    # ground-truth boxes, and the score and match flag (1 true, 0 false positive) of every
    # detection. Exchanging it lets several hosts compute the mAP of their pooled parts.
    def records(self) -> tuple[np.ndarray, np.ndarray]:
        """(ground-truth boxes per class (C,), detections (N, 3) [class, score, match])."""
        metric = self._metric
        positives = np.array([metric._n_pos.get(c, 0) for c in range(self.num_classes)], dtype=np.float64)
        rows = []
        for c in sorted(metric._score):
            scores, matches = metric._score[c], metric._match[c]
            if len(scores) != len(matches):
                raise AlgorithmError(f"class {c}: {len(scores)} scores but {len(matches)} match flags")
            rows.extend((c, score, match) for score, match in zip(scores, matches))
        return positives, np.array(rows, dtype=np.float64).reshape(-1, 3)

    def set_records(self, positives: np.ndarray, detections: np.ndarray) -> None:
        """Replace the state with `records()` output (e.g. pooled over hosts)."""
        self.reset()
        metric = self._metric
        for c in range(self.num_classes):
            # Every class gets an entry: one without ground truth scores NaN (left out of the
            # mean), exactly as when it was never seen.
            metric._n_pos[c] = int(positives[c])
            chosen = detections[detections[:, 0] == c]
            metric._score[c] = list(chosen[:, 1])
            metric._match[c] = [int(m) for m in chosen[:, 2]]
