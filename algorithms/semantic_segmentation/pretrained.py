"""ImageNet weights of the backbone from the local model store (use_pretrained_model=True).

The store (SMLOCAL_MODEL_STORE) holds GluonCV model-zoo parameter files under
`semantic-segmentation/` (the table is in spec.py; `smlocal pretrained pull` fetches them):
- `resnet50_v1s.params`: GluonCV's `resnet50_v1s` (what GluonCV downloads as `resnet50_v1s-<hash>.params`),
- `resnet101_v1s.params`: GluonCV's `resnet101_v1s`.
These are the backbones GluonCV's FCN/PSP/DeepLab use (dilation does not change the weights).
Only the backbone comes from them; the decoder heads start from GluonCV's initialisation.
"""
from __future__ import annotations

from pathlib import Path

from gluoncv.model_zoo.segbase import get_backbone

from algorithms.common.model_store import load_arrays, pretrained_file, structural_shapes
from algorithms.semantic_segmentation import network
from container.logs import get_logger

_SIDE = 224  # the ImageNet input; the backbone's parameter shapes do not depend on it
CLASSIFIER = ("fc.",)  # in GluonCV's ImageNet files, not in the segmentation networks


def store_path(backbone: str) -> Path:
    """The weights file in the store; a ClientError that says what to do when it is missing."""
    return pretrained_file("semantic-segmentation", {"backbone": backbone},
                           enabled="use_pretrained_model=True (the default)",
                           disable="use_pretrained_model=False to train the backbone from scratch")


def expected_for(backbone: str) -> dict[str, tuple[int, ...]]:
    """The backbone's parameters by their file names (`layer1.0.conv1.weight`), with their shapes:
    GluonCV's ImageNet ResNet-v1s without its classifier."""
    net = get_backbone(network.GLUONCV_BACKBONES[backbone], pretrained=False)
    return {name: shape for name, shape in structural_shapes(net, _SIDE).items() if network.is_backbone(name)}


def load_backbone_weights(net, backbone: str, contexts: list) -> None:
    path = store_path(backbone)
    network.set_weights(net, load_arrays(path), contexts, str(path), backbone_only=True)
    get_logger().info("Loaded ImageNet-pretrained %s backbone weights from %s", backbone, path)
