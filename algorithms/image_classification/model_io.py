"""Artifacts exactly as the built-in writes them, and reading them back (ours or the built-in's).

model.tar.gz holds `image-classification-symbol.json`, `image-classification-NNNN.params`
(1-based epoch; `arg:`/`aux:` prefixed arrays as `Module.save_checkpoint` writes) and
`model-shapes.json` (`[{"shape": [N, C, H, W], "name": "data"}]`)."""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import mxnet as mx

from container.errors import ClientError

PREFIX = "image-classification"
PARAMS_RE = re.compile(rf"^{PREFIX}-(\d{{4}})\.params$")


def params_path(directory: Path, epoch: int) -> Path:
    return directory / f"{PREFIX}-{epoch:04d}.params"


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(str(tmp))
    os.replace(tmp, path)


def save_params(path: Path, arg_params: dict, aux_params: dict) -> None:
    arrays = {f"arg:{k}": v.astype("float32") for k, v in arg_params.items()}
    arrays.update({f"aux:{k}": v.astype("float32") for k, v in aux_params.items()})
    _atomic_write(path, lambda tmp: mx.nd.save(tmp, arrays))


def export(directory: Path, symbol: mx.sym.Symbol, arg_params: dict, aux_params: dict, epoch: int,
           data_shape: tuple[int, ...]) -> Path:
    """Write symbol, params for `epoch` (1-based) and model-shapes.json into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    _atomic_write(directory / f"{PREFIX}-symbol.json", symbol.save)
    shapes = json.dumps([{"shape": list(data_shape), "name": "data"}])
    _atomic_write(directory / "model-shapes.json", lambda tmp: Path(tmp).write_text(shapes))
    path = params_path(directory, epoch)
    save_params(path, arg_params, aux_params)
    return path


def params_files(directory: Path) -> dict[int, Path]:
    return {int(m.group(1)): p for p in directory.glob(f"{PREFIX}-*.params")
            if (m := PARAMS_RE.match(p.name))}


def load_params(path: Path) -> tuple[dict, dict]:
    try:
        saved = mx.nd.load(str(path))
    except mx.base.MXNetError as exc:
        raise ClientError(f"Cannot read model parameters {path.name}: not an MXNet params file") from exc
    arg, aux = {}, {}
    for key, value in saved.items():
        kind, _, name = key.partition(":")
        if kind == "arg":
            arg[name] = value
        elif kind == "aux":
            aux[name] = value
        else:  # Gluon-style file without prefixes: treat everything as arguments
            arg[key] = value
    return arg, aux


@dataclass(frozen=True)
class SavedModel:
    directory: Path
    symbol: Path
    params: Path
    epoch: int
    num_layers: int | None
    num_classes: int | None
    image_shape: tuple[int, int, int] | None

    def hyperparameters(self) -> dict:
        return {"num_layers": self.num_layers, "image_shape": self.image_shape, "num_classes": self.num_classes}


def read_saved_model(directory: Path) -> SavedModel:
    """Describe the artifacts in `directory` (the latest epoch's params are the ones to load)."""
    symbol = directory / f"{PREFIX}-symbol.json"
    found = params_files(directory)
    if not symbol.is_file() or not found:
        names = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
        raise ClientError(
            f"The model channel does not hold an image-classification model: expected "
            f"{PREFIX}-symbol.json and {PREFIX}-NNNN.params, found {names}")
    epoch = max(found)
    layers, classes = _describe_graph(symbol)
    shape = None
    shapes_file = directory / "model-shapes.json"
    if shapes_file.is_file():
        try:
            shape = tuple(json.loads(shapes_file.read_text())[-1]["shape"][1:])
        except (ValueError, KeyError, IndexError, TypeError):
            raise ClientError("model-shapes.json in the model channel is malformed") from None
    return SavedModel(directory, symbol, found[epoch], epoch, layers, classes, shape)


def _describe_graph(symbol_file: Path) -> tuple[int | None, int | None]:
    """num_layers and num_classes from a saved graph: weighted layers = unit convolutions + conv0 + fc."""
    try:
        nodes = json.loads(symbol_file.read_text())["nodes"]
    except (ValueError, KeyError):
        raise ClientError(f"{symbol_file.name} in the model channel is not an MXNet symbol file") from None
    convs = sum(1 for n in nodes if n["op"] == "Convolution" and re.match(r"stage\d+_unit\d+_conv\d$", n["name"]))
    fcs = [n for n in nodes if n["op"] == "FullyConnected"]
    classes = None
    if fcs:
        attrs = fcs[-1].get("attrs") or fcs[-1].get("attr") or fcs[-1].get("param") or {}
        classes = int(attrs["num_hidden"]) if "num_hidden" in attrs else None
    layers = convs + 2 if convs else None
    return layers, classes
