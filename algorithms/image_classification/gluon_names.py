"""Gluon's pre-activation ResNets (`resnet18_v2` ... `resnet152_v2` of MXNet's Gluon model zoo and
GluonCV's, the same networks) under this algorithm's layer names.

Their `save_parameters` files name each array by its place in the network: `features.0` is the
input BatchNorm (`bn_data`), `features.1` / `features.2` the stem convolution and its BatchNorm
(`conv0`, `bn0`), `features.5` ... `features.8` the four stages of units whose `bn1`, `conv1`, ...,
`downsample` are `stage{S}_unit{U}_bn1`, `_conv1`, ..., `_sc`, `features.9` the last BatchNorm
(`bn1`) and `output` the classifier (`fc`). The graphs are the same as the symbolic model zoo's
(network.py), so the arrays load as they are.
"""
from __future__ import annotations

import re

_STEM = {"features.0": "bn_data", "features.1": "conv0", "features.2": "bn0", "features.9": "bn1", "output": "fc"}
_UNIT = re.compile(r"^features\.([5-8])\.(\d+)\.(bn[123]|conv[123]|downsample)\.(\w+)$")
_FIELDS = {"gamma": "gamma", "beta": "beta", "running_mean": "moving_mean", "running_var": "moving_var",
           "weight": "weight", "bias": "bias"}
_AUX = ("running_mean", "running_var")


def is_gluon_resnet_v2(names) -> bool:
    names = set(names)
    return "features.5.0.bn1.gamma" in names and "features.1.weight" in names


def _our_name(name: str) -> tuple[str, bool] | None:
    """(this network's name, whether it is an auxiliary state), or None for a name not of the network."""
    layer, _, field = name.rpartition(".")
    if field not in _FIELDS:
        return None
    if layer in _STEM:
        return f"{_STEM[layer]}_{_FIELDS[field]}", field in _AUX
    if m := _UNIT.match(name):
        stage, unit, part = int(m.group(1)) - 4, int(m.group(2)) + 1, m.group(3)
        part = "sc" if part == "downsample" else part
        return f"stage{stage}_unit{unit}_{part}_{_FIELDS[m.group(4)]}", m.group(4) in _AUX
    return None


def renamed(arrays: dict) -> tuple[dict, dict, list[str]]:
    """(arguments, auxiliary states, names that are not of the network) of a Gluon ResNet v2 file."""
    arg, aux, unknown = {}, {}, []
    for name, value in arrays.items():
        ours = _our_name(name)
        if ours is None:
            unknown.append(name)
        else:
            (aux if ours[1] else arg)[ours[0]] = value
    return arg, aux, unknown


def describe(arrays: dict) -> tuple[int | None, int | None]:
    """(num_layers, num_classes): the units' convolutions + the stem + the classifier, and the
    classifier's rows."""
    convs = sum(1 for name in arrays if re.match(r"^features\.[5-8]\.\d+\.conv\d\.weight$", name))
    classes = arrays["output.weight"].shape[0] if "output.weight" in arrays else None
    return (convs + 2 if convs else None), classes
