"""SSD over a VGG-16 (atrous) or ResNet-50 base network, built from GluonCV 0.10.5 blocks.

One block serves training, validation and export. It takes raw RGB pixels (0-255, NCHW) and
normalises them itself, so the exported graph needs no preprocessing beyond resizing:

- with `training_outputs(True)` it returns the raw predictions the losses need
  `(cls_preds (B, N, C+1), box_preds (B, N, 4), anchors (1, N, 4) as centre/size in pixels)`;
- otherwise (the default, and what is exported) it returns detections `(B, nms_topk, 6)`, each row
  `[class_id, score, xmin, ymin, xmax, ymax]` with coordinates normalised to [0, 1] and rows of
  class_id -1 as padding.

The anchor layout is the built-in's (mxnet-ssd presets): six prediction layers (seven for VGG-16
at image_shape >= 512), anchor sizes as fractions of the input side, aspect ratios (1, 2, 1/2)
plus (3, 1/3) on the middle layers. Parameter names are fixed (no global Gluon name counters), so
saved artifacts load into any process: the base networks are `vgg16_atrous_*` and
`resnet50_v1_*`, the extra layers `vgg16_atrous_extra*` / `expand_*`, the heads `ssd_*`.

ResNet-50 comes in two layouts. The default is GluonCV's resnet50_v1 (its ImageNet weights are in
the model store). The real built-in's SSD is built on the pre-activation ResNet-50 (v2, the
image-classification network, names `bn_data`, `stage{S}_unit{U}_*`, features at `_plus12` and
`_plus15`); a job whose starting weights have that layout (a built-in artifact, or a model trained
from one) builds it, so every parameter of such a model loads (`base_layout`). Like the
built-in's data pipeline it takes mean-subtracted pixels and leaves the scaling to `bn_data`.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import mxnet as mx
import numpy as np
from gluoncv.model_zoo.resnet import resnet50_v1
from gluoncv.model_zoo.ssd.ssd import SSD
from gluoncv.model_zoo.ssd.vgg_atrous import get_vgg_atrous_extractor
from gluoncv.nn.feature import FeatureExpander

from algorithms.image_classification import network as preact_resnet

# The prefixes every parameter of a base network starts with (freeze_layer_pattern sees these).
BASE_PREFIX = {"vgg-16": "vgg16_atrous_", "resnet-50": "resnet50_v1_"}
HEAD_PREFIX = "ssd_"
# ImageNet statistics of the pretrained base networks, in 0-255 pixel units.
PIXEL_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
PIXEL_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
# The built-in's pre-activation base takes pixels minus mxnet-ssd's mean, unscaled.
PREACT_PIXEL_MEAN, PREACT_PIXEL_STD = (123.0, 117.0, 104.0), (1.0, 1.0, 1.0)
BOX_STDS = (0.1, 0.1, 0.2, 0.2)   # the built-in's MultiBox variances
SCORE_THRESHOLD = 0.01            # candidates below this never reach NMS

# ResNet-50 layouts (module docstring).
V1, PREACT = "resnet50_v1", "preact"
_PREACT_MARKER = "stage1_unit1_conv1_weight"
_PREACT_FEATURES = ("_plus12", "_plus15")  # the ends of stages 3 and 4, as the built-in takes them

_SMALL_RATIOS, _ALL_RATIOS = [1, 2, 0.5], [1, 2, 0.5, 3, 1.0 / 3]


@dataclass(frozen=True)
class AnchorLayout:
    sizes: tuple[float, ...]            # fractions of the input side, one more than layers
    ratios: tuple[tuple[float, ...], ...]

    @property
    def layers(self) -> int:
        return len(self.ratios)


def anchor_layout(base_network: str, image_shape: int) -> AnchorLayout:
    if base_network == "vgg-16" and image_shape >= 512:
        return AnchorLayout((0.07, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.05),
                            tuple(map(tuple, [_SMALL_RATIOS] + [_ALL_RATIOS] * 4 + [_SMALL_RATIOS] * 2)))
    return AnchorLayout((0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05),
                        tuple(map(tuple, [_SMALL_RATIOS] + [_ALL_RATIOS] * 3 + [_SMALL_RATIOS] * 2)))


def base_network_block(base_network: str, image_shape: int) -> mx.gluon.HybridBlock:
    """The bare ImageNet base network, the block whose parameters the model store provides."""
    if base_network == "vgg-16":
        # VGG-16 with fc6/fc7 as dilated convolutions and the SSD extra layers (GluonCV's
        # `vgg16_atrous_300/512`); the extras for 512 add a seventh prediction layer.
        return get_vgg_atrous_extractor(16, 512 if image_shape >= 512 else 300, prefix=BASE_PREFIX["vgg-16"])
    if base_network == "resnet-50":
        return resnet50_v1(pretrained=False, prefix=BASE_PREFIX["resnet-50"])
    raise ValueError(f"unknown base network {base_network}")


def base_layout(names) -> str:
    """The ResNet-50 layout of a set of saved parameter names."""
    return PREACT if _PREACT_MARKER in names else V1


def _preact_resnet50() -> mx.sym.Symbol:
    with mx.name.NameManager():  # the built-in's `_plusN` names count from 0
        return preact_resnet.features(50)


def feature_extractor(base: mx.gluon.HybridBlock | None, base_network: str,
                      layout: str = V1) -> mx.gluon.HybridBlock:
    """Multi-scale feature maps. ResNet-50: the ends of stage 3 and stage 4 plus four extra
    layers (1x1 transition, 3x3 stride-2 conv; 512/256/256/128 filters) as the built-in."""
    if base_network == "vgg-16":
        return base
    source, outputs = ((_preact_resnet50(), list(_PREACT_FEATURES)) if layout == PREACT
                       else (base, ["stage3_activation5", "stage4_activation2"]))
    with warnings.catch_warnings():  # SymbolBlock warns that the input dtype is not declared
        warnings.simplefilter("ignore", UserWarning)
        expander = FeatureExpander(network=source, outputs=outputs,
                                   num_filters=[512, 256, 256, 128], use_1x1_transition=True, use_bn=False,
                                   reduce_ratio=0.5, min_depth=128)
    for name, param in expander.collect_params().items():
        if name.startswith("expand_") and name.endswith("_bias"):
            param.init = mx.init.Zero()  # GluonCV tags the biases with the weights' Xavier init
    return expander


def feature_sizes(features: mx.gluon.HybridBlock, image_shape: int) -> list[int]:
    outputs = features(mx.sym.var("data"))
    _, shapes, _ = mx.sym.Group(outputs).infer_shape(data=(1, 3, image_shape, image_shape))
    return [shape[2] for shape in shapes]


class Detector(SSD):
    """GluonCV's SSD with in-graph normalisation and the built-in's detection output."""

    def __init__(self, features, base_network: str, image_shape: int, num_classes: int,
                 nms_threshold: float, nms_topk: int, layout: str = V1):
        anchors = anchor_layout(base_network, image_shape)
        fmaps = feature_sizes(features, image_shape)
        if len(fmaps) != anchors.layers:
            raise ValueError(f"{base_network} gives {len(fmaps)} feature maps, expected {anchors.layers}")
        super().__init__(
            network=None, base_size=image_shape, features=lambda **_: features, num_filters=None,
            sizes=[f * image_shape for f in anchors.sizes], ratios=[list(r) for r in anchors.ratios],
            steps=[image_shape / f for f in fmaps], classes=[str(c) for c in range(num_classes)],
            pretrained=False, stds=BOX_STDS, nms_thresh=nms_threshold, nms_topk=nms_topk,
            post_nms=nms_topk, anchor_alloc_size=max(128, fmaps[0]), prefix=HEAD_PREFIX)
        self.base_network, self.image_shape, self.layout = base_network, image_shape, layout
        self._training_outputs = False
        mean, std = (PREACT_PIXEL_MEAN, PREACT_PIXEL_STD) if layout == PREACT else (PIXEL_MEAN, PIXEL_STD)
        with self.name_scope():
            self.pixel_mean = self.params.get_constant("pixel_mean", np.reshape(mean, (1, 3, 1, 1)))
            self.pixel_std = self.params.get_constant("pixel_std", np.reshape(std, (1, 3, 1, 1)))

    def training_outputs(self, enabled: bool) -> None:
        """Switch between raw predictions and detections. A hybridized block traces one graph, so
        the choice is explicit state (not autograd's training flag) and a switch re-traces."""
        if enabled != self._training_outputs:
            self._training_outputs = enabled
            self._clear_cached_op()

    def hybrid_forward(self, F, x, pixel_mean, pixel_std):  # noqa: N803 - Gluon's signature
        x = F.broadcast_div(F.broadcast_sub(x, pixel_mean), pixel_std)
        features = self.features(x)
        cls_preds = [F.flatten(F.transpose(cp(feat), (0, 2, 3, 1)))
                     for feat, cp in zip(features, self.class_predictors)]
        box_preds = [F.flatten(F.transpose(bp(feat), (0, 2, 3, 1)))
                     for feat, bp in zip(features, self.box_predictors)]
        anchors = [F.reshape(ag(feat), shape=(1, -1)) for feat, ag in zip(features, self.anchor_generators)]
        cls_preds = F.concat(*cls_preds, dim=1).reshape((0, -1, self.num_classes + 1))
        box_preds = F.concat(*box_preds, dim=1).reshape((0, -1, 4))
        anchors = F.concat(*anchors, dim=1).reshape((1, -1, 4))
        if self._training_outputs:
            return cls_preds, box_preds, anchors
        return self._detections(F, cls_preds, box_preds, anchors)

    def _detections(self, F, cls_preds, box_preds, anchors):
        """One candidate per anchor and class above SCORE_THRESHOLD, per-class NMS, the best
        `nms_topk` kept, boxes normalised by the input side and clipped to the image."""
        boxes = self.bbox_decoder(box_preds, anchors) / float(self.image_shape)
        boxes = F.clip(boxes, 0.0, 1.0)
        cls_ids, scores = self.cls_decoder(F.softmax(cls_preds, axis=-1))
        per_class = []
        for c in range(self.num_classes):
            per_class.append(F.concat(cls_ids.slice_axis(axis=-1, begin=c, end=c + 1),
                                      scores.slice_axis(axis=-1, begin=c, end=c + 1), boxes, dim=-1))
        result = F.concat(*per_class, dim=1)
        # overlap_thresh 1 suppresses nothing; box_nms still sorts and applies topk.
        result = F.contrib.box_nms(result, overlap_thresh=self.nms_thresh, topk=self.nms_topk,
                                   valid_thresh=SCORE_THRESHOLD, id_index=0, score_index=1,
                                   coord_start=2, force_suppress=False)
        return result.slice_axis(axis=1, begin=0, end=self.nms_topk)


def build(base_network: str, image_shape: int, num_classes: int, nms_threshold: float = 0.45,
          nms_topk: int = 400, base: mx.gluon.HybridBlock | None = None, layout: str = V1) -> Detector:
    """The detector, uninitialised. `base` may carry pretrained weights already (V1 layout)."""
    layout = layout if base_network == "resnet-50" else V1
    if base is None and layout == V1:
        base = base_network_block(base_network, image_shape)
    return Detector(feature_extractor(base, base_network, layout), base_network, image_shape, num_classes,
                    nms_threshold, nms_topk, layout)


def parameter_shapes(net: Detector) -> dict[str, tuple[int, ...]]:
    """Every parameter's shape, inferred from the graph (Gluon defers some until a forward pass)."""
    graph = net(mx.sym.var("data"))
    side = net.image_shape
    arg_shapes, _, aux_shapes = graph.infer_shape(data=(1, 3, side, side))
    shapes = dict(zip(graph.list_arguments(), arg_shapes))
    shapes.update(zip(graph.list_auxiliary_states(), aux_shapes))
    return shapes


def base_parameter_names(net: Detector) -> list[str]:
    """Parameters of the base network proper (not the SSD extra layers or heads)."""
    if net.layout == PREACT:  # the built-in's names, no prefix
        return [name for name in net.collect_params() if not name.startswith(("expand_", HEAD_PREFIX))]
    prefix = BASE_PREFIX[net.base_network]
    return [name for name in net.collect_params()
            if name.startswith(prefix) and not re.match(rf"{prefix}extra\d+_", name)
            and not name.endswith("init_scale")]


def freeze(net: Detector, pattern: str) -> list[str]:
    """Stop gradient updates of base-network parameters whose names match `pattern`
    (`re.match`, as the built-in applies it). Returns the frozen names."""
    regex = re.compile(pattern)
    params = net.collect_params()
    frozen = [name for name in base_parameter_names(net) if regex.match(name)]
    for name in frozen:
        params[name].grad_req = "null"
    return frozen


def is_constant(param: mx.gluon.Parameter) -> bool:
    """Anchors and pixel statistics: derived from the configuration, never loaded from a file."""
    return isinstance(param, mx.gluon.parameter.Constant)
