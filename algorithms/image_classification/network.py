"""The built-in's pre-activation ResNet as an MXNet symbol, with the built-in's layer names.

Names follow the graph the SageMaker built-in saves (see the reference symbol
`ic-resnet50-builtin-symbol.json`): `bn_data` normalises raw 0-255 pixels inside the graph,
units are `stage{S}_unit{U}_{bn,relu,conv}{1,2,3}` with `_sc` projections, the head is
`bn1 → relu1 → pool1 → flatten0 → fc → softmax`. Identical names mean parameters move freely
between this implementation and the built-in's artifacts.

Depths 18/34/50/101/152/200 are the ImageNet-style network at any input size; 20/32/44/56/110
are the small-image (CIFAR-style) network: 3×3 stem, three stages of basic units.
"""
from __future__ import annotations

from dataclasses import dataclass

import mxnet as mx

BN_MOMENTUM = 0.9
BN_EPS = 2e-5
WORKSPACE = 256


@dataclass(frozen=True)
class Architecture:
    units: tuple[int, ...]
    filters: tuple[int, ...]   # stem width, then one per stage
    bottleneck: bool
    small_image: bool


def architecture(num_layers: int) -> Architecture:
    large = {
        18: ((2, 2, 2, 2), False), 34: ((3, 4, 6, 3), False), 50: ((3, 4, 6, 3), True),
        101: ((3, 4, 23, 3), True), 152: ((3, 8, 36, 3), True), 200: ((3, 24, 36, 3), True),
    }
    if num_layers in large:
        units, bottleneck = large[num_layers]
        filters = (64, 256, 512, 1024, 2048) if bottleneck else (64, 64, 128, 256, 512)
        return Architecture(units, filters, bottleneck, small_image=False)
    if (num_layers - 2) % 6 == 0 and num_layers < 164:
        per_stage = (num_layers - 2) // 6
        return Architecture((per_stage,) * 3, (16, 16, 32, 64), False, small_image=True)
    raise ValueError(f"unsupported num_layers {num_layers}")


def _bn(data, name, fix_gamma=False):
    return mx.sym.BatchNorm(data=data, fix_gamma=fix_gamma, eps=BN_EPS, momentum=BN_MOMENTUM, name=name)


def _conv(data, num_filter, kernel, stride, name):
    pad = (kernel // 2, kernel // 2)
    return mx.sym.Convolution(data=data, num_filter=num_filter, kernel=(kernel, kernel), stride=stride,
                              pad=pad, no_bias=True, workspace=WORKSPACE, name=name)


def _unit(data, num_filter, stride, dim_match, name, bottleneck):
    act1 = mx.sym.Activation(data=_bn(data, name + "_bn1"), act_type="relu", name=name + "_relu1")
    if bottleneck:
        inner = num_filter // 4
        conv1 = _conv(act1, inner, 1, (1, 1), name + "_conv1")
        act2 = mx.sym.Activation(data=_bn(conv1, name + "_bn2"), act_type="relu", name=name + "_relu2")
        conv2 = _conv(act2, inner, 3, stride, name + "_conv2")
        act3 = mx.sym.Activation(data=_bn(conv2, name + "_bn3"), act_type="relu", name=name + "_relu3")
        body = _conv(act3, num_filter, 1, (1, 1), name + "_conv3")
    else:
        conv1 = _conv(act1, num_filter, 3, stride, name + "_conv1")
        act2 = mx.sym.Activation(data=_bn(conv1, name + "_bn2"), act_type="relu", name=name + "_relu2")
        body = _conv(act2, num_filter, 3, (1, 1), name + "_conv2")
    shortcut = data if dim_match else _conv(act1, num_filter, 1, stride, name + "_sc")
    return body + shortcut


def features(num_layers: int, data=None) -> mx.sym.Symbol:
    """Everything up to and including the global pooling + flatten (the transferable part)."""
    arch = architecture(num_layers)
    data = mx.sym.Variable("data") if data is None else data
    body = mx.sym.identity(data=data, name="id")
    body = _bn(body, "bn_data", fix_gamma=True)
    if arch.small_image:
        body = _conv(body, arch.filters[0], 3, (1, 1), "conv0")
    else:
        body = _conv(body, arch.filters[0], 7, (2, 2), "conv0")
        body = mx.sym.Activation(data=_bn(body, "bn0"), act_type="relu", name="relu0")
        body = mx.sym.Pooling(data=body, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="max",
                              name="pooling0")
    for stage, units in enumerate(arch.units):
        for unit in range(units):
            stride = (1, 1) if stage == 0 or unit > 0 else (2, 2)
            # The first unit of every stage has a projection shortcut (`_sc`), as in the built-in.
            body = _unit(body, arch.filters[stage + 1], stride, unit > 0,
                         f"stage{stage + 1}_unit{unit + 1}", arch.bottleneck)
    body = mx.sym.Activation(data=_bn(body, "bn1"), act_type="relu", name="relu1")
    body = mx.sym.Pooling(data=body, global_pool=True, kernel=(7, 7), pool_type="avg", name="pool1")
    return mx.sym.Flatten(data=body, name="flatten0")


def classifier(num_layers: int, num_classes: int, multi_label: bool = False) -> mx.sym.Symbol:
    """The exported graph: input `data` (raw RGB 0-255), output `softmax` (class probabilities).

    For multi-label the head is a per-class sigmoid under the same output name, so inference code
    written for the built-in reads one probability per class either way."""
    with mx.name.NameManager():
        fc = mx.sym.FullyConnected(data=features(num_layers), num_hidden=num_classes, name="fc")
        if multi_label:
            return mx.sym.LogisticRegressionOutput(data=fc, name="softmax")
        return mx.sym.SoftmaxOutput(data=fc, name="softmax")


def weighted_multilabel_loss(num_layers: int, num_classes: int) -> mx.sym.Symbol:
    """Training graph for multi_label + use_weighted_loss: sigmoid cross-entropy with positive
    examples weighted by `class_weight` (neg/pos ratio per class). Output 0 is the probabilities,
    so metrics and parameter names are those of `classifier`."""
    with mx.name.NameManager():
        fc = mx.sym.FullyConnected(data=features(num_layers), num_hidden=num_classes, name="fc")
        label = mx.sym.Variable("softmax_label")
        weight = mx.sym.Variable("class_weight", shape=(1, num_classes), init=mx.init.One())
        prob = mx.sym.sigmoid(fc)
        eps = 1e-7
        loss = -(mx.sym.broadcast_mul(weight, label * mx.sym.log(prob + eps))
                 + (1 - label) * mx.sym.log(1 - prob + eps))
        loss = mx.sym.MakeLoss(mx.sym.mean(mx.sym.sum(loss, axis=1)), name="weighted_loss")
        return mx.sym.Group([mx.sym.BlockGrad(prob, name="softmax"), loss])
