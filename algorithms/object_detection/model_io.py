"""Artifacts with the built-in's file names, and reading them back for incremental training.

model.tar.gz holds
- `model_algo_1-symbol.json`: the detection graph (input `data`, raw RGB 0-255, NCHW at
  image_shape; output (N, nms_topk, 6) rows [class_id, score, xmin, ymin, xmax, ymax], ratios),
- `model_algo_1-0000.params`: its parameters (`arg:`/`aux:` names), always epoch 0000 as the
  built-in writes the best-mAP model,
- `hyperparams.json`: every resolved hyperparameter as a string, hidden keys included.

A `model` channel may instead hold the real built-in's artifacts (builtin_names) or a public
GluonCV model-zoo SSD (`ssd_300_vgg16_atrous_voc-*.params`, `ssd_512_resnet50_v1_coco-*.params`:
`save_parameters` names such as `features.stages.0.0.weight`), which loads by this network's
structure (`_from_structural`).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import mxnet as mx

from algorithms.common import artifacts
from algorithms.common.public_models import one_gluon_params_file
from algorithms.common import transfer as transfer_plan
from algorithms.common.warm_start import read_symbol_nodes
from algorithms.object_detection import builtin_names, network
from container.errors import ClientError
from container.logs import get_logger

PREFIX = "model_algo_1"
SYMBOL_FILE = f"{PREFIX}-symbol.json"
PARAMS_FILE = f"{PREFIX}-0000.params"
HYPERPARAMS_FILE = "hyperparams.json"
ARTIFACTS = (SYMBOL_FILE, PARAMS_FILE, HYPERPARAMS_FILE)


def export(net: network.Detector, directory: Path, hyperparameters: dict[str, str]) -> Path:
    """Write the three artifacts into `directory`, each replaced atomically."""
    net.training_outputs(False)
    side = net.image_shape
    context = next(iter(net.collect_params().values())).list_ctx()[0]
    net(mx.nd.zeros((1, 3, side, side), ctx=context)).wait_to_read()  # trace the detection graph
    with artifacts.atomic_export(directory, ARTIFACTS) as tmp:
        net.export(os.path.join(tmp, PREFIX), epoch=0)
        Path(tmp, HYPERPARAMS_FILE).write_text(json.dumps(hyperparameters, indent=1, sort_keys=True))
    return directory / PARAMS_FILE


def has_model(directory: Path) -> bool:
    return artifacts.has_files(directory, ARTIFACTS)


def copy_model(source: Path, target: Path) -> None:
    artifacts.copy_files(source, target, ARTIFACTS)


@dataclass(frozen=True)
class SavedModel:
    directory: Path
    params: Path
    hyperparameters: dict[str, str]


def read_saved_model(directory: Path, source: str) -> SavedModel:
    if not has_model(directory):
        expected = f"expected {', '.join(ARTIFACTS)}, or one GluonCV SSD parameter file NAME.params"
        params = one_gluon_params_file(directory, source, "an object-detection", expected)
        return SavedModel(directory, params, describe_public(_read_arrays(params, source)))
    # The graph is rebuilt from the hyperparameters, but a damaged symbol file means a damaged model.
    read_symbol_nodes(directory / SYMBOL_FILE, source)
    try:
        hyperparameters = json.loads((directory / HYPERPARAMS_FILE).read_bytes().decode("utf-8"))
    except ValueError:
        raise ClientError(f"{HYPERPARAMS_FILE} in {source} is not valid JSON") from None
    if not isinstance(hyperparameters, dict):
        raise ClientError(f"{HYPERPARAMS_FILE} in {source} must hold a JSON object")
    return SavedModel(directory, directory / PARAMS_FILE, {str(k): str(v) for k, v in hyperparameters.items()})


# GluonCV's model zoo names its resnet50_v1 `resnetv10_`; this network's is BASE_PREFIX's.
_GLUONCV_RESNET = "features.resnetv10_"


def describe_public(arrays: dict) -> dict[str, str]:
    """The base network a GluonCV SSD file was built on, as far as its names tell (num_classes
    depends on the anchors per layer, which the file does not record)."""
    if any(name.startswith("features.stages.") for name in arrays):
        return {"base_network": "vgg-16"}
    if any(name.startswith(_GLUONCV_RESNET) for name in arrays):
        return {"base_network": "resnet-50"}
    return {}


def _from_structural(net: network.Detector, arrays: dict) -> dict:
    """A save_parameters file's arrays under this network's parameter names: each structural
    name (`class_predictors.0.predictor.weight`) is the parameter at that place in this network."""
    by_place = {place: param.name for place, param in net._collect_params_with_prefix().items()}  # noqa: SLF001
    ours = f"features.{network.BASE_PREFIX['resnet-50']}"
    renamed = {}
    for name, value in arrays.items():
        if name.startswith(_GLUONCV_RESNET):
            name = ours + name[len(_GLUONCV_RESNET):]
        renamed[by_place.get(name, name)] = value
    return renamed


def _read_arrays(path: Path, source: str) -> dict:
    """The file's arrays by parameter name: `export`'s `arg:`/`aux:` prefixes dropped, a
    `save_parameters` file's structural names kept (they have no colon)."""
    expected = ("expected the MXNet parameter file of named arrays that HybridBlock.export (or a GluonCV "
                "model's save_parameters) writes")
    try:
        saved = mx.nd.load(str(path))
    except mx.base.MXNetError:
        raise ClientError(f"Cannot read {path.name} in {source}: damaged or not MXNet; {expected}") from None
    if not isinstance(saved, dict):
        raise ClientError(f"Cannot use {path.name} in {source}: it holds unnamed arrays; {expected}")
    return {name.split(":", 1)[-1]: value for name, value in saved.items()}


def base_layout(path: Path, source: str) -> str:
    """The ResNet-50 layout the saved model was built with (network.base_layout; a GluonCV file's
    resnet50_v1 is the default layout)."""
    return network.base_layout(_read_arrays(path, source))


def load_params(net: network.Detector, path: Path, source: str, contexts: list, transfer: bool = False) -> None:
    """Set every learned parameter of `net` from `path` (with `transfer`, those whose name and
    shape fit; the others keep their initialisation). Constants (anchors, pixel statistics)
    are derived from this job's configuration and are never taken from the file."""
    saved = _read_arrays(path, source)
    if any("." in name for name in saved):  # save_parameters' structural names (export's have no dots)
        saved = _from_structural(net, saved)
    if builtin_names.is_builtin(saved):
        saved, base = builtin_names.rename(saved)
        if net.layout == network.PREACT:
            get_logger().info("Recognised the built-in algorithm's SSD parameters in %s: the extra layers and "
                              "predictors map to this network, and its %d pre-activation ResNet-50 base "
                              "parameters load as they are (this job builds that base network).", path.name,
                              len(base))
        else:
            get_logger().info("Recognised the built-in algorithm's SSD parameters in %s: the extra layers and "
                              "predictors map to this network; its %d base parameters do not (this base "
                              "network is %s).", path.name, len(base), net.base_network)
            if not transfer:
                raise ClientError(
                    f"{path.name} in {source} is the built-in algorithm's SSD, whose base network is not this "
                    f"job's {net.base_network}: only its extra layers and predictors can be loaded; set "
                    f"warm_start_mode=transfer to load those (the base network then starts from random weights)")
    constants = {name for name, p in net.collect_params().items() if network.is_constant(p)}
    saved = {name: value for name, value in saved.items() if name not in constants}
    params = {name: p for name, p in net.collect_params().items() if name not in constants}
    shapes = network.parameter_shapes(net)
    if transfer:
        plan = transfer_plan.plan({n: v.shape for n, v in saved.items()}, {n: shapes[n] for n in params},
                                  f"{path.name} in {source}")
        plan.log()
        params = {name: params[name] for name in plan.loaded}
    missing = [name for name in params if name not in saved]
    if missing:
        raise ClientError(
            f"Incompatible model in {source}: {len(missing)} parameter(s) of this network are not in "
            f"{path.name} (e.g. {missing[:3]}); the model must come from this algorithm with the same "
            f"base_network and num_classes, or set warm_start_mode=transfer to load the parameters that fit")
    for name, param in params.items():
        value = saved[name]
        expected = shapes[name]
        if tuple(expected) != value.shape:
            raise ClientError(
                f"Incompatible model in {source}: parameter '{name}' has shape {value.shape}, this "
                f"network needs {expected}")
        param._load_init(value, contexts)  # noqa: SLF001 - Gluon's own loader sets deferred params this way
