"""Validation pixel accuracy and mIOU, and the metric log lines.

Log lines (docs/semantic-segmentation.md lists the regexes that read them):
  #quality_metric: host=algo-1, epoch=0, train loss <loss>=(0.53)
  #throughput_metric: host=algo-1, train throughput=(6.1) records/second
  #quality_metric: host=algo-1, epoch=0, validation pixel_accuracy <score>=(0.91)
  #quality_metric: host=algo-1, epoch=0, validation mIOU <score>=(0.62)
  #throughput_metric: host=algo-1, validation throughput=(20.4) records/second
"""
from __future__ import annotations

import math

import numpy as np

from container.logs import get_logger


class ConfusionMatrix:
    """Pixel counts per (true class, predicted class); labels < 0 (ignore) are skipped.

    pixel accuracy = correct labelled pixels / labelled pixels;
    mIOU = mean over classes of TP / (TP + FP + FN), over the classes that occur in the labels or
    the predictions (a class absent from both has no defined IoU and is left out, unlike
    GluonCV's metric, which counts it as 0)."""

    def __init__(self, num_classes: int):
        self.num_classes = num_classes
        self.counts = np.zeros((num_classes, num_classes), dtype=np.int64)

    def reset(self) -> None:
        self.counts[:] = 0

    def update(self, labels: np.ndarray, predictions: np.ndarray) -> None:
        labels = np.asarray(labels).astype(np.int64).ravel()
        predictions = np.asarray(predictions).astype(np.int64).ravel()
        keep = labels >= 0
        index = labels[keep] * self.num_classes + predictions[keep]
        self.counts += np.bincount(index, minlength=self.num_classes ** 2).reshape(self.counts.shape)

    def pixel_accuracy(self) -> float:
        total = self.counts.sum()
        return float(np.trace(self.counts) / total) if total else math.nan

    def per_class_iou(self) -> np.ndarray:
        true_positive = np.diag(self.counts).astype(np.float64)
        union = self.counts.sum(axis=0) + self.counts.sum(axis=1) - true_positive
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, true_positive / union, np.nan)

    def mean_iou(self) -> float:
        iou = self.per_class_iou()
        return float(np.nanmean(iou)) if np.isfinite(iou).any() else math.nan


def _number(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.6g}"


def log_train(host: str, epoch: int, loss: float, throughput: float) -> None:
    log = get_logger()
    log.info("#quality_metric: host=%s, epoch=%d, train loss <loss>=(%s)", host, epoch, _number(loss))
    log.info("#throughput_metric: host=%s, train throughput=(%s) records/second", host, _number(throughput))


def log_validation(host: str, epoch: int, pixel_accuracy: float, miou: float, throughput: float) -> None:
    log = get_logger()
    log.info("#quality_metric: host=%s, epoch=%d, validation pixel_accuracy <score>=(%s)", host, epoch,
             _number(pixel_accuracy))
    log.info("#quality_metric: host=%s, epoch=%d, validation mIOU <score>=(%s)", host, epoch, _number(miou))
    log.info("#throughput_metric: host=%s, validation throughput=(%s) records/second", host, _number(throughput))
