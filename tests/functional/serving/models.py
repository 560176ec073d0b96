"""Model directories for serving tests, written by each algorithm's own export code with random
weights (no training): the artifacts an endpoint gets are exactly those a job writes."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet import autograd

from algorithms.image_classification import model_io as ic_io
from algorithms.image_classification.network import classifier
from algorithms.object_detection import model_io as od_io
from algorithms.object_detection import network as od_network
from algorithms.object_detection.hyperparameters import SCHEMA as OD_SCHEMA
from algorithms.semantic_segmentation import model_io as ss_io
from algorithms.semantic_segmentation import network as ss_network
from algorithms.semantic_segmentation.hyperparameters import parse as ss_parse
from tests.reference import REFERENCE_ARTIFACTS

REFERENCE = REFERENCE_ARTIFACTS
IC_CLASSES, IC_SHAPE = 4, (3, 32, 32)
OD_CLASSES, OD_SIDE = 2, 300  # 300 is the smallest image_shape
SS_CLASSES = 3


XAVIER = mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2)


def calibration_batch(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Smooth random 0-255 images: the BatchNorm statistics of random weights are taken from
    them, so the networks' outputs are neither saturated nor constant and any change of the
    input pixels shows in them."""
    rng = np.random.RandomState(seed)
    count, channels, height, width = shape
    coarse = rng.uniform(0, 255, (count, channels, 4, 4)).astype(np.float32)
    return mx.nd.contrib.BilinearResize2D(mx.nd.array(coarse), height=height, width=width).asnumpy().clip(0, 255)


def _random_params(symbol: mx.sym.Symbol, data_shape: tuple[int, ...], seed: int) -> tuple[dict, dict]:
    """Random weights, and BatchNorm statistics of one calibration batch (momentum 0 makes one
    training pass set them; MXNet updates them in the backward pass)."""
    mx.random.seed(seed)
    graph = json.loads(symbol.tojson())
    for node in graph["nodes"]:
        if node["op"] == "BatchNorm":
            node.setdefault("attrs", {})["momentum"] = "0"
    calibrating = mx.sym.load_json(json.dumps(graph))
    batch = calibration_batch((4, *data_shape[1:]), seed)
    module = mx.mod.Module(calibrating, data_names=["data"], label_names=["softmax_label"], context=mx.cpu())
    module.bind(data_shapes=[("data", batch.shape)], label_shapes=[("softmax_label", (4,))], for_training=True)
    module.init_params(XAVIER)
    module.forward_backward(mx.io.DataBatch([mx.nd.array(batch)], [mx.nd.zeros(4)]))
    # The statistics are written by the backward pass outside the engine's dependency tracking
    # of the copies below: wait for it, then copy (get_params alone returns the old ones).
    mx.nd.waitall()
    module._sync_params_from_devices()  # noqa: SLF001
    return module.get_params()


def _calibrate_gluon(net: mx.gluon.Block, batch: np.ndarray, passes: int = 1) -> None:
    norms = [block for block in _blocks(net) if isinstance(block, mx.gluon.nn.BatchNorm)]
    for block in norms:
        block._kwargs["momentum"] = 0.0  # noqa: SLF001 - Gluon keeps the operator's arguments here
    for _ in range(passes):
        with autograd.record(train_mode=True):
            outputs = net(mx.nd.array(batch))
            total = sum(output.sum() for output in (outputs if isinstance(outputs, (list, tuple)) else [outputs]))
        total.backward()  # MXNet updates the running statistics in the backward pass
    mx.nd.waitall()
    for block in norms:
        block._kwargs["momentum"] = 0.9  # noqa: SLF001


def _blocks(block: mx.gluon.Block):
    yield block
    for child in block._children.values():  # noqa: SLF001 - Gluon has no public walk over children
        yield from _blocks(child)


def image_classification(directory: Path, num_layers: int = 18, image_shape=IC_SHAPE, num_classes=IC_CLASSES,
                         epoch: int = 3, seed: int = 0) -> Path:
    symbol = classifier(num_layers, num_classes)
    arg, aux = _random_params(symbol, (1, *image_shape), seed)
    ic_io.export(directory, symbol, arg, aux, epoch, (8, *image_shape))
    return directory


def builtin_image_classification(directory: Path, seed: int = 0) -> Path:
    """The real built-in artifact layout: its ResNet-50 symbol file and model-shapes.json as
    SageMaker wrote them, with an `image-classification-0017.params` of random weights."""
    directory.mkdir(parents=True, exist_ok=True)
    symbol_file = directory / "image-classification-symbol.json"
    shutil.copyfile(REFERENCE / "ic-resnet50-builtin-symbol.json", symbol_file)
    shutil.copyfile(REFERENCE / "ic-resnet50-builtin-model-shapes.json", directory / "model-shapes.json")
    arg, aux = _random_params(mx.sym.load(str(symbol_file)), (1, 3, 224, 224), seed)
    ic_io.save_params(ic_io.params_path(directory, 17), arg, aux)
    return directory


def object_detection(directory: Path, side: int = OD_SIDE, num_classes: int = OD_CLASSES, seed: int = 0) -> Path:
    mx.random.seed(seed)
    hp = OD_SCHEMA.parse({"num_classes": str(num_classes), "num_training_samples": "4", "image_shape": str(side),
                          "base_network": "resnet-50"})
    net = od_network.build(hp.base_network, hp.image_shape, hp.num_classes, hp.nms_threshold, hp.nms_topk)
    net.initialize(XAVIER, ctx=[mx.cpu()])
    # The base network is a SymbolBlock inside the feature expander (momentum fixed at 0.9):
    # repeated passes on small images bring its statistics close to the calibration batch's.
    # Random base-network activations grow layer by layer; the prediction layers are scaled by
    # each feature map's size on a calibration image, so scores and box offsets stay moderate.
    mean, std = np.reshape(od_network.PIXEL_MEAN, (1, 3, 1, 1)), np.reshape(od_network.PIXEL_STD, (1, 3, 1, 1))
    features = net.features(mx.nd.array((calibration_batch((1, 3, side, side), seed) - mean) / std))
    net(mx.nd.zeros((1, 3, side, side)))  # sizes the prediction layers
    for feature, classes, boxes in zip(features, net.class_predictors, net.box_predictors):
        scale = 1.0 / float(feature.abs().mean().asscalar())
        for param in [*classes.collect_params().values(), *boxes.collect_params().values()]:
            param.set_data(param.data() * scale)
    net.hybridize(static_alloc=True, static_shape=True)  # export traces the hybridized graph, as training's does
    od_io.export(net, directory, hp.as_strings())
    return directory


def semantic_segmentation(directory: Path, algorithm: str = "fcn", num_classes: int = SS_CLASSES,
                          seed: int = 0) -> Path:
    mx.random.seed(seed)
    hp = ss_parse({"num_classes": str(num_classes), "num_training_samples": "4", "algorithm": algorithm,
                   "crop_size": "32", "base_size": "48", "use_pretrained_model": "False"})
    net = ss_network.build(hp.algorithm, hp.backbone, hp.num_classes, hp.crop_size, hp.base_size, [mx.cpu()])
    side = hp.crop_size
    # Normalised pixels, as to_network_input gives them; the pass also sizes the backbone.
    _calibrate_gluon(net, (calibration_batch((2, 3, side, side), seed) / 255.0 - 0.45) / 0.225)
    ss_io.export(net, directory, hp.as_strings())
    return directory
