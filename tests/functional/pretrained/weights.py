"""Weights files in the formats the zoos publish, with seeded values (stand-ins for ImageNet)."""
from __future__ import annotations

from pathlib import Path

import mxnet as mx
import numpy as np


def classifier_checkpoint(directory: Path, layers: int = 18, dtype: str = "float32", epoch: int = 0):
    """An MXNet checkpoint of the ImageNet ResNet (1000 classes): (symbol file, params file, arrays)."""
    from algorithms.image_classification.network import classifier

    directory.mkdir(parents=True, exist_ok=True)
    symbol = classifier(layers, 1000)
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1, 3, 224, 224))
    rng = np.random.RandomState(layers)
    arrays = {f"arg:{n}": mx.nd.array(rng.normal(0, 0.05, s), dtype=dtype)
              for n, s in zip(symbol.list_arguments(), arg_shapes) if n not in ("data", "softmax_label")}
    arrays.update({f"aux:{n}": mx.nd.array(np.abs(rng.normal(1, 0.1, s)), dtype=dtype)
                   for n, s in zip(symbol.list_auxiliary_states(), aux_shapes)})
    params = directory / f"resnet-{layers}-{epoch:04d}.params"
    mx.nd.save(str(params), arrays)
    symbol_file = directory / f"resnet-{layers}-symbol.json"
    symbol.save(str(symbol_file))
    return symbol_file, params, arrays


def gluon_file(block: mx.gluon.HybridBlock, path: Path, side: int = 64) -> dict[str, np.ndarray]:
    """`block`'s parameters as GluonCV publishes them (save_parameters); returns them by file name."""
    mx.random.seed(7)
    block.initialize(mx.init.Normal(0.05))
    block(mx.nd.zeros((1, 3, side, side)))
    path.parent.mkdir(parents=True, exist_ok=True)
    block.save_parameters(str(path))
    return {name: array.asnumpy() for name, array in mx.nd.load(str(path)).items()}


def tiny_network_file(path: Path) -> Path:
    """Parameters of some other, small network."""
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Conv2D(4, 3), mx.gluon.nn.Dense(2))
    gluon_file(net, path, side=8)
    return path
