"""What an algorithm is, declared once: `AlgorithmSpec`.

Each algorithm package has a `spec.py` with one `SPEC`. Everything that needs to know about the
algorithms reads it: the container's registry (train and serve entries, the single-host rule),
and, through the plain-data manifest generated from the specs (`python -m algorithms.manifest`),
the emulator (names, the single-host rule, the built-in metric definitions, the hyperparameter
table), the Makefile's image list and the docs' hyperparameter tables. Importing a spec imports
no MXNet: the entries are "module:function" strings, resolved only when a job starts.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from algorithms.common.schema import REQUIRED, Schema, format_value

# A number as the built-ins print it, for metric regexes.
NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


@dataclass(frozen=True)
class MetricDefinition:
    """A SageMaker metric definition: the log regex whose first group is the value."""

    name: str
    regex: str


@dataclass(frozen=True)
class PretrainedWeights:
    """ImageNet weights that a `use_pretrained_model` setting reads from the model store."""

    name: str                              # the model zoo's name; `smlocal pretrained pull NAME`
    file: str                              # path in the model store (SMLOCAL_MODEL_STORE)
    settings: tuple[tuple[str, str], ...]  # the hyperparameter values that read it
    form: str                              # "checkpoint" (MXNet arg:/aux: names) or "gluon" (save_parameters names)
    network: str                           # what it is, for messages

    def manifest(self) -> dict:
        return {"name": self.name, "file": self.file, "settings": dict(self.settings), "form": self.form,
                "network": self.network}


@dataclass(frozen=True)
class AlgorithmSpec:
    name: str                               # the built-in's image name, e.g. "image-classification"
    schema: Schema
    train: str                              # "module:function(env, stop)"
    serve: str                              # "module:function(model_dir) -> predictor"
    metrics: tuple[MetricDefinition, ...]   # the built-in's metric definitions
    objective: str                          # the metric tuning maximises by default
    multi_host: bool = True                 # trains on several instances (parameter server)
    artifacts: tuple[str, ...] = ()         # the files of model.tar.gz (patterns), for the docs
    pretrained: tuple[PretrainedWeights, ...] = ()  # what use_pretrained_model reads

    def load_train(self):
        return _resolve(self.train)

    def load_serve(self):
        return _resolve(self.serve)

    def manifest(self) -> dict:
        """Plain data for code that must not import the algorithms (the emulator)."""
        return {
            "name": self.name,
            "multi_host": self.multi_host,
            "metric_definitions": [{"Name": m.name, "Regex": m.regex} for m in self.metrics],
            "objective": self.objective,
            "artifacts": list(self.artifacts),
            "pretrained": [weights.manifest() for weights in self.pretrained],
            "hyperparameters": [
                {"name": p.name, "required": p.required,
                 "default": None if p.required else format_value(p.default),
                 "allowed": p.allowed(), "choices": None if p.choices is None else
                 [format_value(c) for c in p.choices], "doc": p.doc, "hidden": p.hidden,
                 # What `allowed` says, as data: the emulator's console checks values with it.
                 "type": p.kind, "minimum": p.minimum, "maximum": p.maximum,
                 "exclusive_minimum": p.exclusive_minimum, "exclusive_maximum": p.exclusive_maximum}
                for p in self.schema.params],
        }


def _resolve(target: str):
    module_name, _, function = target.partition(":")
    return getattr(importlib.import_module(module_name), function)


__all__ = ["AlgorithmSpec", "MetricDefinition", "NUMBER", "PretrainedWeights", "REQUIRED"]
