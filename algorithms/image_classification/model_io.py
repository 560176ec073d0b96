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

from algorithms.common.public_models import is_symbolic_checkpoint
from algorithms.common.warm_start import read_symbol_nodes
from algorithms.image_classification import gluon_names
from container.errors import ClientError
from container.logs import get_logger

PREFIX = "image-classification"
PARAMS_RE = re.compile(rf"^{PREFIX}-(\d{{4}})\.params$")


def params_path(directory: Path, epoch: int) -> Path:
    return directory / f"{PREFIX}-{epoch:04d}.params"


def _atomic_write(path: Path, write) -> None:
    """`write(temp_path)` then rename: a reader, or the packing of a killed job, sees the old file
    or the new one, never half of one (packing skips `*.tmp`)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
    expected = "expected an MXNet parameter file of named arrays (as Module.save_checkpoint writes)"
    try:
        saved = mx.nd.load(str(path))
    except mx.base.MXNetError:
        raise ClientError(f"Cannot read model parameters {path.name}: damaged or not MXNet; {expected}") from None
    if not isinstance(saved, dict):
        raise ClientError(f"Cannot use model parameters {path.name}: it holds unnamed arrays; {expected}")
    if any("." in key for key in saved):  # save_parameters' structural names: a Gluon network's file
        return _gluon_params(path, saved)
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


def _gluon_params(path: Path, saved: dict) -> tuple[dict, dict]:
    if not gluon_names.is_gluon_resnet_v2(saved):
        raise ClientError(
            f"{path.name} is a Gluon parameter file, but not of a pre-activation ResNet (resnet18_v2 ... "
            f"resnet152_v2, names such as features.5.0.bn1.gamma; it holds e.g. {sorted(saved)[:3]}): this "
            f"algorithm's network is the pre-activation ResNet")
    arg, aux, unknown = gluon_names.renamed(saved)
    if unknown:
        raise ClientError(f"{path.name} holds {len(unknown)} arrays that are not of a pre-activation ResNet "
                          f"(e.g. {unknown[:3]})")
    return arg, aux


@dataclass(frozen=True)
class SavedModel:
    directory: Path
    symbol: Path | None  # None: a Gluon parameter file (no graph)
    params: Path
    epoch: int
    num_layers: int | None
    num_classes: int | None
    image_shape: tuple[int, int, int] | None

    def hyperparameters(self) -> dict:
        return {"num_layers": self.num_layers, "image_shape": self.image_shape, "num_classes": self.num_classes}


def read_saved_model(directory: Path, source: str = "the model channel") -> SavedModel:
    """Describe the artifacts in `directory` (the latest epoch's params are the ones to load):
    this algorithm's (ours or the built-in's), a public MXNet checkpoint (`<name>-symbol.json` +
    `<name>-NNNN.params`, as the MXNet model zoo publishes ResNets) or a Gluon model zoo's
    pre-activation ResNet (`resnet50_v2-*.params`, gluon_names), exactly one of them."""
    symbol, found = _the_model(directory, source)
    epoch = max(found)
    if symbol is None:
        layers, classes = gluon_names.describe(_names_and_shapes(found[epoch]))
        return SavedModel(directory, None, found[epoch], epoch, layers, classes, None)
    layers, classes = _describe_graph(symbol, source)
    shape = None
    shapes_file = symbol.parent / "model-shapes.json"
    if shapes_file.is_file():
        try:
            shape = tuple(int(n) for n in json.loads(shapes_file.read_bytes().decode("utf-8"))[-1]["shape"][1:])
        except (ValueError, KeyError, IndexError, TypeError):
            raise ClientError(
                f"model-shapes.json in {source} is malformed; expected "
                f'[{{"shape": [N, C, H, W], "name": "data"}}]') from None
    return SavedModel(directory, symbol, found[epoch], epoch, layers, classes, shape)


def _names_and_shapes(path: Path) -> dict:
    try:
        saved = mx.nd.load(str(path))
    except mx.base.MXNetError:
        raise ClientError(f"Cannot read model parameters {path.name}: damaged or not MXNet") from None
    return saved if isinstance(saved, dict) else {}


def _the_model(directory: Path, source: str) -> tuple[Path | None, dict[int, Path]]:
    """The one `<name>-symbol.json` with `<name>-NNNN.params` beside it, or the one Gluon
    `NAME.params` (symbol None, epoch 0), anywhere in `directory` (a second candidate would leave
    the choice to chance)."""
    candidates: dict[Path, tuple[Path | None, dict[int, Path]]] = {}
    for symbol in sorted(directory.rglob("*-symbol.json")) if directory.is_dir() else []:
        name = symbol.name[:-len("-symbol.json")]
        pattern = re.compile(rf"^{re.escape(name)}-(\d{{4}})\.params$")
        found = {int(m.group(1)): p for p in symbol.parent.iterdir() if (m := pattern.match(p.name))}
        if found:
            candidates[symbol] = (symbol, found)
    for params in sorted(directory.rglob("*.params")) if directory.is_dir() else []:
        if not is_symbolic_checkpoint(params):
            candidates[params] = (None, {0: params})
    expected = (f"expected {PREFIX}-symbol.json and {PREFIX}-NNNN.params (this algorithm's model.tar.gz), "
                f"one MXNet checkpoint NAME-symbol.json and NAME-NNNN.params, or one Gluon pre-activation "
                f"ResNet parameter file NAME.params")
    if not candidates:
        names = sorted(str(p.relative_to(directory)) for p in directory.rglob("*")) if directory.is_dir() else []
        raise ClientError(
            f"{source[:1].upper()}{source[1:]} does not hold an image-classification model: {expected}, "
            f"found {names[:20]}")
    if len(candidates) > 1:
        files = [str(p.relative_to(directory)) for p in candidates]
        raise ClientError(f"{source[:1].upper()}{source[1:]} holds {len(candidates)} candidate models ({files}); "
                          f"{expected}: remove all but one")
    (path, (symbol, found)), = candidates.items()
    if symbol is None:
        get_logger().info("Recognised a public Gluon parameter file in %s: %s.", source, path.relative_to(directory))
    elif symbol.name != f"{PREFIX}-symbol.json":
        get_logger().info("Recognised a public MXNet checkpoint in %s: %s with %s.", source,
                          symbol.relative_to(directory), found[max(found)].name)
    return symbol, found


def _describe_graph(symbol_file: Path, source: str) -> tuple[int | None, int | None]:
    """num_layers and num_classes from a saved graph: weighted layers = unit convolutions + conv0 + fc."""
    nodes = read_symbol_nodes(symbol_file, source)
    convs = sum(1 for n in nodes if n["op"] == "Convolution" and re.match(r"stage\d+_unit\d+_conv\d$", n["name"]))
    fcs = [n for n in nodes if n["op"] == "FullyConnected"]
    classes = None
    if fcs:
        attrs = fcs[-1].get("attrs") or fcs[-1].get("attr") or fcs[-1].get("param") or {}
        hidden = attrs.get("num_hidden") if isinstance(attrs, dict) else None
        try:
            classes = None if hidden is None else int(hidden)
        except (TypeError, ValueError):
            raise ClientError(
                f"{symbol_file.name} in {source} is malformed; its last FullyConnected layer's num_hidden "
                f"is {str(hidden)[:40]!r}, expected a whole number") from None
    layers = convs + 2 if convs else None
    return layers, classes
