"""Artifacts with the built-in's file names, and reading them back for incremental training.

model.tar.gz holds
- `model_algo-1`: the Gluon parameter file (`save_parameters`, structural names such as
  `layer1.0.conv1.weight`, `head.block.4.weight`, `auxlayer.block.4.weight`) of the GluonCV
  FCN/PSPNet/DeepLabV3 network; the best-mIOU epoch;
- `hyperparams.json`: every resolved hyperparameter as a string.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import mxnet as mx

from algorithms.common import artifacts
from algorithms.common.public_models import one_gluon_params_file
from algorithms.semantic_segmentation import network
from container.errors import ClientError

PARAMS_FILE = "model_algo-1"
HYPERPARAMS_FILE = "hyperparams.json"
ARTIFACTS = (PARAMS_FILE, HYPERPARAMS_FILE)
# ResNet depth from the number of bottleneck blocks in layer3.
_LAYER3_BLOCKS = {6: "resnet-50", 23: "resnet-101"}


def export(net, directory: Path, hyperparameters: dict[str, str]) -> Path:
    """Write both artifacts into `directory`, each replaced atomically."""
    with artifacts.atomic_export(directory, ARTIFACTS) as tmp:
        net.save_parameters(os.path.join(tmp, PARAMS_FILE))
        Path(tmp, HYPERPARAMS_FILE).write_text(json.dumps(hyperparameters, indent=1, sort_keys=True))
    return directory / PARAMS_FILE


def has_model(directory: Path) -> bool:
    return artifacts.has_files(directory, ARTIFACTS)


def copy_model(source: Path, target: Path) -> None:
    artifacts.copy_files(source, target, ARTIFACTS)


@dataclass(frozen=True)
class SavedModel:
    params: Path
    arrays: dict
    hyperparameters: dict[str, str]

    def architecture(self) -> dict[str, str]:
        """algorithm, backbone and num_classes as the weights show them, over hyperparams.json
        (which is the only source of crop_size)."""
        described = dict(self.hyperparameters)
        described.update(describe_weights(self.arrays))
        return described


def read_saved_model(directory: Path, source: str) -> SavedModel:
    """This algorithm's artifacts (ours or the built-in's) or, without model_algo-1, one public
    GluonCV parameter file (`*.params`, as the GluonCV model zoo publishes FCN/PSP/DeepLab)."""
    params = directory / PARAMS_FILE
    if not params.is_file():
        params = one_gluon_params_file(
            directory, source, "a semantic-segmentation",
            f"expected {PARAMS_FILE} (and {HYPERPARAMS_FILE}) or one GluonCV parameter file NAME.params")
    try:
        arrays = mx.nd.load(str(params))
    except mx.base.MXNetError:
        raise ClientError(f"Cannot read {params.name} in {source}: damaged or not MXNet; expected the Gluon "
                          f"parameter file that save_parameters writes") from None
    if not isinstance(arrays, dict):
        raise ClientError(f"{params.name} in {source} holds unnamed arrays, not Gluon parameters")
    hyperparameters: dict = {}
    hp_file = directory / HYPERPARAMS_FILE
    if hp_file.is_file():
        try:
            hyperparameters = json.loads(hp_file.read_bytes().decode("utf-8"))
        except ValueError:
            raise ClientError(f"{HYPERPARAMS_FILE} in {source} is not valid JSON") from None
        if not isinstance(hyperparameters, dict):
            raise ClientError(f"{HYPERPARAMS_FILE} in {source} must hold a JSON object")
    return SavedModel(params, arrays, {str(k): str(v) for k, v in hyperparameters.items()})


def describe_weights(arrays: dict) -> dict[str, str]:
    """What the parameter names and shapes reveal about the network that wrote them."""
    described = {}
    if "head.block.4.weight" in arrays:
        described["num_classes"] = str(arrays["head.block.4.weight"].shape[0])
    if any(name.startswith("head.psp.") for name in arrays):
        described["algorithm"] = "psp"
    elif any(name.startswith("head.aspp.") for name in arrays):
        described["algorithm"] = "deeplab"
    elif "head.block.0.weight" in arrays:
        described["algorithm"] = "fcn"
    blocks = {name.split(".")[1] for name in arrays if name.startswith("layer3.")}
    if len(blocks) in _LAYER3_BLOCKS:
        described["backbone"] = _LAYER3_BLOCKS[len(blocks)]
    return described


def load_into(net, saved: SavedModel, source: str, contexts: list, transfer: bool = False) -> None:
    network.set_weights(net, saved.arrays, contexts, f"{saved.params.name} in {source}", transfer=transfer)
