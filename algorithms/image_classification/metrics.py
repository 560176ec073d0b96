"""Training/validation metrics with the built-in's names (accuracy, top_k_accuracy_<k>)."""
from __future__ import annotations

import mxnet as mx
import numpy as np


class MultiLabelAccuracy(mx.metric.EvalMetric):
    """Per-class accuracy at threshold 0.5, averaged over all classes (the built-in's multi-label
    accuracy)."""

    def __init__(self, name: str = "accuracy"):
        super().__init__(name)

    def update(self, labels, preds):
        for label, pred in zip(labels, preds):
            label = label.asnumpy() if hasattr(label, "asnumpy") else np.asarray(label)
            pred = pred.asnumpy() if hasattr(pred, "asnumpy") else np.asarray(pred)
            correct = ((pred > 0.5) == (label > 0.5)).sum()
            self.sum_metric += float(correct)
            self.global_sum_metric += float(correct)
            self.num_inst += label.size
            self.global_num_inst += label.size


def build(multi_label: bool, top_k: int | None) -> mx.metric.CompositeEvalMetric:
    composite = mx.metric.CompositeEvalMetric()
    composite.add(MultiLabelAccuracy() if multi_label else mx.metric.Accuracy())
    if top_k and not multi_label:
        composite.add(mx.metric.TopKAccuracy(top_k=top_k))
    return composite


def update_trimmed(metric, labels, outputs, pad: int) -> None:
    """Update with the padded tail of the last batch removed."""
    if pad:
        keep = labels[0].shape[0] - pad
        labels = [label[:keep] for label in labels]
        outputs = [out[:keep] for out in outputs]
    metric.update(labels, outputs[:1])
