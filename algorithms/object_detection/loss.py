"""SSD training targets and losses, as the built-in (mxnet-ssd) defines them.

Targets come from MXNet's MultiBoxTarget operator: anchors matched to ground truth at IoU 0.5,
hard negatives mined at 3 per positive, box offsets encoded with variances (0.1, 0.1, 0.2, 0.2).
The optimised loss normalises as the built-in's graph does ("valid" normalisation): softmax
cross-entropy averaged over positives and mined negatives, plus smooth L1 averaged over the box
offsets of positive anchors. This keeps the built-in's learning-rate scale (default 0.001). The
reported `cross_entropy` and `smooth_l1` are sums per matched or mined anchor, as the built-in's
training metric reports them.
"""
from __future__ import annotations

from dataclasses import dataclass

import mxnet as mx
from mxnet import autograd

from algorithms.object_detection.network import BOX_STDS

MATCH_IOU = 0.5
NEGATIVE_MINING_RATIO = 3
NEGATIVE_MINING_IOU = 0.5


def corner_anchors(anchors: mx.nd.NDArray, side: int) -> mx.nd.NDArray:
    """(1, N, 4) centre/size in pixels -> (1, N, 4) [xmin, ymin, xmax, ymax] ratios."""
    cx, cy, w, h = anchors.split(axis=-1, num_outputs=4)
    return mx.nd.concat(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, dim=-1) / side


@dataclass
class BatchLoss:
    """NDArrays, so computing the loss never waits for the engine; read them after the step."""
    loss: mx.nd.NDArray               # scalar to back-propagate
    cross_entropy_sum: mx.nd.NDArray  # over positives and mined negatives
    smooth_l1_sum: mx.nd.NDArray      # over positive box offsets
    anchors_used: mx.nd.NDArray       # positives + mined negatives


def ssd_loss(cls_preds, box_preds, anchors, labels, side: int) -> BatchLoss:
    """labels: (B, M, 5) [cls, xmin, ymin, xmax, ymax] ratios, rows of cls -1 are padding."""
    with autograd.pause():
        loc_target, loc_mask, cls_target = mx.nd.contrib.MultiBoxTarget(
            corner_anchors(anchors, side), labels, cls_preds.transpose((0, 2, 1)),
            overlap_threshold=MATCH_IOU, ignore_label=-1, negative_mining_ratio=NEGATIVE_MINING_RATIO,
            negative_mining_thresh=NEGATIVE_MINING_IOU, minimum_negative_samples=0, variances=BOX_STDS)
        used = cls_target >= 0
        anchors_used = used.sum()
        offsets = mx.nd.maximum(loc_mask.sum(), 1.0)
    log_prob = mx.nd.log_softmax(cls_preds, axis=-1)
    cross_entropy = -mx.nd.pick(log_prob, mx.nd.maximum(cls_target, 0), axis=-1) * used
    smooth_l1 = mx.nd.smooth_l1((box_preds.reshape((0, -1)) - loc_target) * loc_mask, scalar=1.0)
    ce_sum, l1_sum = cross_entropy.sum(), smooth_l1.sum()
    loss = ce_sum / mx.nd.maximum(anchors_used, 1.0) + l1_sum / offsets
    return BatchLoss(loss, ce_sum.detach(), l1_sum.detach(), anchors_used)
