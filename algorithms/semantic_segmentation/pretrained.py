"""ImageNet weights of the backbone from the local model store (use_pretrained_model=True).

The store (SMLOCAL_MODEL_STORE, default /opt/ml-models) holds GluonCV model-zoo parameter files
under `semantic-segmentation/`:
- `resnet50_v1s.params`: GluonCV's `resnet50_v1s` (what GluonCV downloads as `resnet50_v1s-<hash>.params`),
- `resnet101_v1s.params`: GluonCV's `resnet101_v1s`.
These are the backbones GluonCV's FCN/PSP/DeepLab use (dilation does not change the weights).
Only the backbone comes from them; the decoder heads start from GluonCV's initialisation.
"""
from __future__ import annotations

from pathlib import Path

import mxnet as mx

from algorithms.common.model_store import pretrained_file
from algorithms.semantic_segmentation import network
from container.errors import ClientError
from container.logs import get_logger

STORE_FILES = {"resnet-50": "semantic-segmentation/resnet50_v1s.params",
               "resnet-101": "semantic-segmentation/resnet101_v1s.params"}


def store_path(backbone: str) -> Path:
    """The weights file in the store; a ClientError that says what to do when it is missing."""
    return pretrained_file(STORE_FILES[backbone],
                           f"the ImageNet-pretrained {backbone} backbone (GluonCV "
                           f"{network.GLUONCV_BACKBONES[backbone]}_v1s)",
                           enabled="use_pretrained_model=True (the default)",
                           disable="use_pretrained_model=False to train the backbone from scratch")


def load_backbone_weights(net, backbone: str, contexts: list) -> None:
    path = store_path(backbone)
    try:
        arrays = mx.nd.load(str(path))
    except mx.base.MXNetError:
        raise ClientError(f"Cannot read {path}: not an MXNet parameter file") from None
    if not isinstance(arrays, dict):
        raise ClientError(f"{path} holds unnamed arrays, not a Gluon parameter file")
    network.set_weights(net, arrays, contexts, str(path), backbone_only=True)
    get_logger().info("Loaded ImageNet-pretrained %s backbone weights from %s", backbone, path)
