"""The filler of a short last batch (dataloader.fill_batch) adds nothing to what is learned: the
detection and segmentation losses give it zero gradient, and the real samples' gradients are
the same as without it."""
import mxnet as mx
import numpy as np
from gluoncv.loss import MixSoftmaxCrossEntropyLoss
from mxnet import autograd

from algorithms.common.dataloader import fill_batch
from algorithms.object_detection.data import PADDING_CLASS
from algorithms.object_detection.loss import ssd_loss
from algorithms.semantic_segmentation.data import LOSS_IGNORE

BATCH = 4


def gradient(loss_of, predictions):
    predictions = [p.copy() for p in predictions]
    for p in predictions:
        p.attach_grad()
    with autograd.record():
        loss = loss_of(*predictions)
    loss.backward()
    return [p.grad.asnumpy() for p in predictions]


def test_fill_batch_repeats_the_images_and_pads_the_labels():
    images = mx.nd.arange(3 * 2).reshape((3, 2))
    labels = mx.nd.array([[1.0], [2.0], [3.0]])
    filled, padded, count = fill_batch(images, labels, 5, -1.0)
    assert count == 3
    assert filled.asnumpy().tolist() == [[0, 1], [2, 3], [4, 5], [0, 1], [2, 3]]
    assert padded.asnumpy().ravel().tolist() == [1, 2, 3, -1, -1]
    full = fill_batch(filled, padded, 5, -1.0)
    assert full[0] is filled and full[2] == 5


def test_detection_filler_has_no_gradient():
    rng = np.random.RandomState(0)
    anchors_count, classes, side = 60, 3, 32
    centres = rng.uniform(4, 28, (1, anchors_count, 2))
    anchors = mx.nd.array(np.concatenate([centres, rng.uniform(6, 16, (1, anchors_count, 2))], axis=-1))
    labels = mx.nd.array([[[0, 0.1, 0.1, 0.6, 0.6]], [[2, 0.3, 0.2, 0.9, 0.8]]])
    cls_preds = mx.nd.array(rng.normal(0, 1, (2, anchors_count, classes + 1)))
    box_preds = mx.nd.array(rng.normal(0, 0.1, (2, anchors_count * 4)))
    real = gradient(lambda c, b: ssd_loss(c, b, anchors, labels, side).loss, [cls_preds, box_preds])
    (cls_full, _, count), (box_full, padded, _) = (fill_batch(cls_preds, labels, BATCH, PADDING_CLASS),
                                                   fill_batch(box_preds, labels, BATCH, PADDING_CLASS))
    filled = gradient(lambda c, b: ssd_loss(c, b, anchors, padded, side).loss, [cls_full, box_full])
    for with_filler, without in zip(filled, real):
        assert np.abs(with_filler[count:]).max() == 0
        np.testing.assert_allclose(with_filler[:count], without, rtol=1e-5, atol=1e-7)


def test_segmentation_filler_has_no_gradient():
    rng = np.random.RandomState(1)
    loss = MixSoftmaxCrossEntropyLoss(aux=True, aux_weight=0.4, ignore_label=LOSS_IGNORE)
    masks = mx.nd.array(rng.randint(0, 3, (2, 8, 8)))
    main, aux = (mx.nd.array(rng.normal(0, 1, (2, 3, 8, 8))) for _ in range(2))
    real = gradient(lambda m, a: loss(m, a, masks).sum(), [main, aux])
    main_full, padded, count = fill_batch(main, masks, BATCH, LOSS_IGNORE)
    aux_full = fill_batch(aux, masks, BATCH, LOSS_IGNORE)[0]
    filled = gradient(lambda m, a: loss(m, a, padded).sum(), [main_full, aux_full])
    for with_filler, without in zip(filled, real):
        assert np.abs(with_filler[count:]).max() == 0
        np.testing.assert_allclose(with_filler[:count], without, rtol=1e-5, atol=1e-7)
