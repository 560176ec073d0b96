"""Is a weights file the ImageNet weights a `use_pretrained_model` setting needs?

    python -m algorithms.common.pretrained_check --output DIR [--name NAME] FILE...

FILE...: an MXNet checkpoint (`*-NNNN.params` with `arg:`/`aux:` names, optionally with its
`*-symbol.json`) or a GluonCV parameter file (`save_parameters` names such as
`features.0.weight`). The parameter names and shapes are compared with the network of NAME (an
entry of the algorithms' `pretrained` tables), or of every entry of the file's form when no NAME
is given. `smlocal pretrained import` (and `pull`, for zoo files without a published checksum)
runs this as a subprocess of the training stack, because the emulator imports no MXNet.

Writes DIR/verdict.json, `{"ok": true, "name", "algorithm", "file", "converted": [notes],
"weights": null or "weights.params"}` or `{"ok": false, "error": "..."}`, and exits 0 or 2. When
the file needs converting (arrays that are not float32), the converted file is DIR/weights.params;
otherwise the store keeps the user's file byte for byte, so its checksum still means something.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import mxnet as mx
import numpy as np

from algorithms import specs
from algorithms.common.algorithm import PretrainedWeights
from algorithms.common.model_store import check_parameters, load_arrays
from container.errors import ClientError

VERDICT = "verdict.json"
CONVERTED = "weights.params"
FORMS = {"checkpoint": "an MXNet checkpoint (arg:/aux: parameter names)",
         "gluon": "a GluonCV parameter file (save_parameters names such as features.0.weight)"}


def _classifier(weights: PretrainedWeights) -> tuple[dict, tuple[str, ...]]:
    """Image classification reads every parameter but the classifier (`fc*`, re-initialised for
    num_classes), by the names of the built-in's graph, which are the MXNet model zoo's."""
    from algorithms.image_classification import network

    symbol = network.classifier(int(dict(weights.settings)["num_layers"]), 1000)
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=(1, 3, 224, 224))
    expected = {f"arg:{name}": shape for name, shape in zip(symbol.list_arguments(), arg_shapes)
                if name not in ("data", "softmax_label") and not name.startswith("fc")}
    expected.update((f"aux:{name}", shape) for name, shape in zip(symbol.list_auxiliary_states(), aux_shapes))
    return expected, ("arg:fc",)


def _base_network(weights: PretrainedWeights) -> tuple[dict, tuple[str, ...]]:
    from algorithms.object_detection import pretrained

    return pretrained.expected_for(dict(weights.settings)["base_network"]), pretrained.NOT_PRETRAINED


def _backbone(weights: PretrainedWeights) -> tuple[dict, tuple[str, ...]]:
    from algorithms.semantic_segmentation import pretrained

    return pretrained.expected_for(dict(weights.settings)["backbone"]), pretrained.CLASSIFIER


# algorithm -> (the parameters a weights entry must have, with shapes; prefixes of arrays it may also have)
EXPECTED = {"image-classification": _classifier, "object-detection": _base_network,
            "semantic-segmentation": _backbone}


def table() -> list[tuple[str, PretrainedWeights]]:
    return [(algorithm, weights) for algorithm, spec in specs().items() for weights in spec.pretrained]


def split_files(files: list[Path]) -> tuple[Path, Path | None]:
    symbols = [f for f in files if f.name.endswith(".json")]
    params = [f for f in files if not f.name.endswith(".json")]
    if len(params) != 1 or len(symbols) > 1:
        raise ClientError(f"Expected one parameter file (*.params) and at most one *-symbol.json, got: "
                          f"{', '.join(str(f) for f in files)}")
    return params[0], (symbols[0] if symbols else None)


def form_of(arrays: dict, path: Path) -> str:
    prefixed = [name.startswith(("arg:", "aux:")) for name in arrays]
    if prefixed and all(prefixed):
        return "checkpoint"
    if not any(prefixed):
        return "gluon"
    raise ClientError(f"{path} mixes arg:/aux: names with other names: it is neither {FORMS['checkpoint']} "
                      f"nor {FORMS['gluon']}")


def check_symbol(symbol_path: Path, arrays: dict, params_path: Path) -> None:
    """The symbol and the parameters must be one checkpoint (the symbol itself is not stored)."""
    try:
        symbol = mx.sym.load(str(symbol_path))
    except mx.base.MXNetError:
        raise ClientError(f"Cannot read {symbol_path}: not an MXNet symbol file") from None
    names = {"arg": set(symbol.list_arguments()), "aux": set(symbol.list_auxiliary_states())}
    for key in arrays:
        kind, name = key.split(":", 1)
        if name not in names[kind]:
            raise ClientError(f"{symbol_path} and {params_path} are not one checkpoint: '{key}' is not a "
                              f"parameter of the symbol")


def choose(arrays: dict, path: Path, form: str, name: str | None) -> tuple[str, PretrainedWeights]:
    """The table entry the file is; a ClientError naming the file and what was expected."""
    entries = table()
    if name is not None:
        named = [(a, w) for a, w in entries if w.name == name]
        if not named:
            raise ClientError(f"Unknown pretrained weights '{name}' (known: {', '.join(w.name for _, w in entries)})")
        algorithm, weights = named[0]
        if weights.form != form:
            raise ClientError(f"{path} is {FORMS[form]}, but {name} ({weights.network} of {algorithm}) is "
                              f"{FORMS[weights.form]}")
        check_parameters(arrays, *_expectation(algorithm, weights, path))
        return algorithm, weights
    failures = []
    for algorithm, weights in [(a, w) for a, w in entries if w.form == form]:
        expected, source, what, ignorable = _expectation(algorithm, weights, path)
        try:
            check_parameters(arrays, expected, source, what, ignorable)
        except ClientError as exc:
            failures.append((sum(n in arrays for n in expected) / len(expected), str(exc)))
            continue
        return algorithm, weights
    nearest = max(failures)[1] if failures else f"no pretrained weights are {FORMS[form]}"
    raise ClientError(f"{path} is none of the pretrained weights the algorithms read (name one with --name); "
                      f"the nearest: {nearest}")


def _expectation(algorithm: str, weights: PretrainedWeights, path: Path) -> tuple:
    """check_parameters' arguments for this entry."""
    expected, ignorable = EXPECTED[algorithm](weights)
    return expected, path, f"the ImageNet weights of {weights.network} of {algorithm} ({weights.name})", ignorable


def as_float32(arrays: dict) -> list[str]:
    """Cast other float types in place (the algorithms train float32 weights); the notes say what."""
    cast = sorted({str(np.dtype(a.dtype)) for a in arrays.values() if a.dtype != np.float32})
    for key, value in arrays.items():
        if value.dtype != np.float32:
            arrays[key] = value.astype("float32")
    return [f"{dtype} arrays cast to float32" for dtype in cast]


def check(files: list[Path], name: str | None, output: Path) -> dict:
    params, symbol = split_files(files)
    arrays = load_arrays(params)
    form = form_of(arrays, params)
    if symbol is not None:
        if form != "checkpoint":
            raise ClientError(f"{symbol} is a symbol file, but {params} is {FORMS['gluon']}, not a checkpoint's")
        check_symbol(symbol, arrays, params)
    algorithm, weights = choose(arrays, params, form, name)
    notes = as_float32(arrays)
    if notes:
        mx.nd.save(str(output / CONVERTED), arrays)
    return {"ok": True, "name": weights.name, "algorithm": algorithm, "file": weights.file, "source": str(params),
            "converted": notes, "weights": CONVERTED if notes else None}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m algorithms.common.pretrained_check")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--name")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    try:
        verdict, code = check(args.files, args.name, args.output), 0
    except ClientError as exc:
        verdict, code = {"ok": False, "error": str(exc)}, 2
    (args.output / VERDICT).write_text(json.dumps(verdict))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
