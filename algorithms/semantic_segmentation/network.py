"""GluonCV's FCN, PSPNet and DeepLabV3 over a dilated ResNet-50/101 (`resnet50_v1s`/`resnet101_v1s`),
exactly the classes of the GluonCV model zoo, so the saved parameters load into
`gluoncv.model_zoo.FCN/PSPNet/DeepLabV3` (and `get_model('fcn_resnet50_voc')` for 21 classes).

Input sizes. Every decoder ends with a resize to a fixed (height, width), and PSP's pyramid
pooling and DeepLab's image pooling resize to a fixed feature-map size (input / 8), all set at
construction from crop_size. Fed any other size, PSP/DeepLab fail with "Incompatible input shape:
expected [1,0,64,80], got [1,256,30,30]" and FCN returns a crop_size-sized map. Training always
sees crop_size squares (a multiple of 8); whole images (validation_mini_batch_size=1, inference)
go through `predict_whole`, which points every fixed size at the actual input for that call.
"""
from __future__ import annotations

import contextlib
import io
import math

import mxnet as mx
from gluoncv.model_zoo import FCN, DeepLabV3, PSPNet
from gluoncv.model_zoo.segbase import SegBaseModel
from mxnet.gluon.contrib.nn import SyncBatchNorm

from algorithms.common import transfer as transfer_plan
from algorithms.semantic_segmentation.hyperparameters import OUTPUT_STRIDE
from container.errors import ClientError

MODELS = {"fcn": FCN, "psp": PSPNet, "deeplab": DeepLabV3}
GLUONCV_BACKBONES = {"resnet-50": "resnet50", "resnet-101": "resnet101"}
# SegBaseModel keeps the dilated ResNet as these children; everything else is decoder.
BACKBONE_BLOCKS = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")
AUX_WEIGHT = 0.5  # GluonCV's weight of the auxiliary (layer3) head's loss
HYBRIDIZE = {"static_alloc": True, "static_shape": True}


def build(algorithm: str, backbone: str, num_classes: int, crop_size: int, base_size: int,
          contexts: list[mx.Context], syncbn: bool = False) -> SegBaseModel:
    """The network with its decoder initialised by GluonCV and the backbone by MSRA init (the
    backbone's shapes are inferred at the first forward pass)."""
    norm = normalisation(syncbn, contexts)
    with contextlib.redirect_stdout(io.StringIO()):  # PSPNet prints its crop size
        net = MODELS[algorithm](num_classes, backbone=GLUONCV_BACKBONES[backbone], aux=True, pretrained_base=False,
                                base_size=base_size, crop_size=crop_size, ctx=contexts[0], **norm)
    init = mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2)
    for name in BACKBONE_BLOCKS:
        getattr(net, name).initialize(init, ctx=contexts)
    net.collect_params().reset_ctx(contexts)
    return net


def normalisation(syncbn: bool, contexts: list[mx.Context]) -> dict:
    """The norm-layer arguments of the GluonCV constructors. SyncBatchNorm (statistics over all
    devices) needs GPUs: MXNet 1.9's CPU implementation deadlocks once a network has more than one
    such layer on several CPU contexts, so CPU contexts keep per-device BatchNorm."""
    if syncbn and all(c.device_type == "gpu" for c in contexts):
        return {"norm_layer": SyncBatchNorm, "norm_kwargs": {"num_devices": len(contexts)}}
    return {}


def structural_params(net: SegBaseModel) -> dict:
    """Parameters by the names `save_parameters` writes (e.g. `layer1.0.conv1.weight`)."""
    return net._collect_params_with_prefix()  # noqa: SLF001 - Gluon's file names, no public accessor


def is_backbone(name: str) -> bool:
    return name.split(".", 1)[0] in BACKBONE_BLOCKS


def set_weights(net: SegBaseModel, arrays: dict, contexts: list, source: str, backbone_only: bool = False,
                transfer: bool = False) -> None:
    """Set the network's parameters (or only the backbone's) from `arrays` (structural names).
    Every required parameter must be present with a fitting shape; with `transfer`, only those
    whose name and shape fit are set (a new last layer for another num_classes keeps its
    initialisation)."""
    params = {name: p for name, p in structural_params(net).items() if not backbone_only or is_backbone(name)}
    if transfer:
        plan = transfer_plan.plan({n: v.shape for n, v in arrays.items()}, {n: p.shape for n, p in params.items()},
                                  source)
        plan.log()
        params = {name: params[name] for name in plan.loaded}
    missing = [name for name in params if name not in arrays]
    if missing:
        raise ClientError(f"{source} does not fit this network: {len(missing)} parameter(s) are missing "
                          f"(e.g. {', '.join(missing[:3])})")
    for name, param in params.items():
        value = arrays[name]
        if len(param.shape) != value.ndim or any(want and want != got for want, got in zip(param.shape, value.shape)):
            raise ClientError(f"{source} does not fit this network: parameter '{name}' has shape {value.shape}, "
                              f"the network needs {param.shape}")
        param._load_init(value.astype(param.dtype), contexts)  # noqa: SLF001 - Gluon's loader for deferred params


def feature_size(side: int) -> int:
    """Side of the backbone's output for an input side: every stride-2 stage rounds up."""
    return math.ceil(side / OUTPUT_STRIDE)


@contextlib.contextmanager
def input_size(net: SegBaseModel, height: int, width: int):
    """Within the block, the network's fixed resize targets fit a height×width input. Only
    takes effect while the network is not hybridized (a cached graph keeps its sizes)."""
    targets = [(net._up_kwargs, height, width)]  # noqa: SLF001 - GluonCV keeps the sizes here
    if isinstance(net, PSPNet):
        targets.append((net.head.psp._up_kwargs, feature_size(height), feature_size(width)))  # noqa: SLF001
    elif isinstance(net, DeepLabV3):
        targets.append((net.head.aspp.concurent[-1]._up_kwargs, feature_size(height), feature_size(width)))  # noqa: SLF001
    saved = [dict(kwargs) for kwargs, _, _ in targets]
    try:
        for kwargs, h, w in targets:
            kwargs.update(height=h, width=w)
        yield net
    finally:
        for (kwargs, _, _), old in zip(targets, saved):
            kwargs.update(old)


@contextlib.contextmanager
def imperative(net: SegBaseModel):
    """Run the network without its cached graph inside the block (for inputs of any size), then
    hybridize it again for training."""
    net.hybridize(False)
    try:
        yield net
    finally:
        net.hybridize(True, **HYBRIDIZE)


def predict_whole(net: SegBaseModel, images: mx.nd.NDArray) -> mx.nd.NDArray:
    """Class scores (N, C, H, W) of the main head for images (N, 3, H, W) of any size.
    The network must not be hybridized (see `imperative`)."""
    _, _, height, width = images.shape
    with input_size(net, height, width):
        return net(images)[0]
