"""ImageNet weights of the base networks from the local model store (use_pretrained_model=1).

The store holds GluonCV model-zoo parameter files under `object-detection/` in the store
directory (SMLOCAL_MODEL_STORE):
- `vgg16_atrous.params`: GluonCV's `vgg16_atrous` (VGG-16 with fc6/fc7 as dilated convolutions),
  the file GluonCV downloads as `vgg16_atrous-<hash>.params`;
- `resnet50_v1.params`: GluonCV's `resnet50_v1`, downloaded as `resnet50_v1-<hash>.params`.
Both are `save_parameters` files (structural names such as `features.0.weight`). Only the base
network comes from them; the SSD extra layers and the prediction heads start random.
"""
from __future__ import annotations

import mxnet as mx

from algorithms.common.model_store import pretrained_file
from container.errors import ClientError
from container.logs import get_logger

STORE_FILES = {"vgg-16": "object-detection/vgg16_atrous.params",
               "resnet-50": "object-detection/resnet50_v1.params"}
# Parts of the base blocks that are not ImageNet-trained (VGG's SSD extras, ResNet's classifier).
_NOT_PRETRAINED = ("extras.", "output.", "init_scale")


def load_base_weights(base: mx.gluon.HybridBlock, base_network: str, contexts: list) -> None:
    path = pretrained_file(STORE_FILES[base_network], f"the ImageNet-pretrained {base_network} base network")
    try:
        saved = mx.nd.load(str(path))
    except mx.base.MXNetError as exc:
        raise ClientError(f"Cannot read {path}: not an MXNet params file") from exc
    required = [name for name in base._collect_params_with_prefix()  # noqa: SLF001 - Gluon's save names
                if not name.startswith(_NOT_PRETRAINED)]
    missing = [name for name in required if name not in saved]
    if missing:
        raise ClientError(
            f"{path} is not a GluonCV {base_network} parameter file: {len(missing)} parameter(s) are "
            f"missing (e.g. {missing[:3]})")
    base.load_parameters(str(path), ctx=contexts, allow_missing=True, ignore_extra=True)
    get_logger().info("Loaded ImageNet-pretrained %s base network weights from %s", base_network, path)
