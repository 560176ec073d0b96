"""ImageNet weights of the base networks from the local model store (use_pretrained_model=1).

The store holds GluonCV model-zoo parameter files under `object-detection/` (the table is in
spec.py; `smlocal pretrained pull` fetches them):
- `vgg16_atrous.params`: GluonCV's `vgg16_atrous` (VGG-16 with fc6/fc7 as dilated convolutions),
  the file GluonCV downloads as `vgg16_atrous-<hash>.params`;
- `resnet50_v1.params`: GluonCV's `resnet50_v1`, downloaded as `resnet50_v1-<hash>.params`.
Both are `save_parameters` files (structural names such as `features.0.weight`). Only the base
network comes from them; the SSD extra layers and the prediction heads start random.
"""
from __future__ import annotations

import mxnet as mx

from algorithms.common.model_store import (
    check_parameters, load_arrays, pretrained_file, structural_shapes, weights_for,
)
from algorithms.object_detection import network
from container.logs import get_logger

ALGORITHM = "object-detection"
# Parts of the base blocks that are not ImageNet-trained: VGG's SSD extras and the conv4_3 L2
# normalisation scale (an SSD layer; GluonCV's loader starts it at 20 when the file lacks it),
# ResNet's classifier, the pixel scaling constant.
NOT_PRETRAINED = ("extras.", "norm4.", "output.", "init_scale")
_SIDE = 512  # any input the base networks accept; the shapes of their parameters do not depend on it


def expected_parameters(base: mx.gluon.HybridBlock) -> dict[str, tuple[int, ...]]:
    """The ImageNet parameters of a base network block, by their file names, with their shapes."""
    return {name: shape for name, shape in structural_shapes(base, _SIDE).items() if not name.startswith(NOT_PRETRAINED)}


def expected_for(base_network: str) -> dict[str, tuple[int, ...]]:
    return expected_parameters(network.base_network_block(base_network, _SIDE))


def load_base_weights(base: mx.gluon.HybridBlock, base_network: str, contexts: list) -> None:
    settings = {"base_network": base_network}
    path = pretrained_file(ALGORITHM, settings)
    check_parameters(load_arrays(path), expected_parameters(base), path,
                     f"a GluonCV {weights_for(ALGORITHM, settings).name} parameter file", ignorable=NOT_PRETRAINED)
    base.load_parameters(str(path), ctx=contexts, allow_missing=True, ignore_extra=True)
    get_logger().info("Loaded ImageNet-pretrained %s base network weights from %s", base_network, path)
