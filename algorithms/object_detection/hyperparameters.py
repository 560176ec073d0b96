"""The built-in object-detection hyperparameters (sagemaker-algorithms.md §2.1), hidden keys included.

Defaults are the container's `default-input.json`. Where the documentation and the container
disagree, or the documented range excludes values the tuning ranges allow, the choice is written
down in docs/object-detection.md.
"""
from __future__ import annotations

import re

from algorithms.common.transfer import WARM_START_MODE
from algorithms.common.schema import (
    Hyperparameters, Param, Schema, parse_bool, parse_float, parse_int, parse_int_list, parse_str,
)
from algorithms.object_detection.hyperparameter_types import ObjectDetectionHyperparameters

OPTIMIZERS = ("sgd", "adam", "rmsprop", "adadelta")
KV_STORES = ("device", "local", "dist_sync", "dist_async")
MIN_IMAGE_SHAPE = 300
HEADER_WIDTH, OBJECT_WIDTH = 2, 5
MIN_LABEL_WIDTH = HEADER_WIDTH + OBJECT_WIDTH  # room for at least one object


BASE_NETWORKS = ("vgg-16", "resnet-50")


def _unit(name: str, default: float, doc: str, exclusive_minimum=False, exclusive_maximum=False,
          hidden=False) -> Param:
    return Param(name, parse_float, default, doc, minimum=0.0, maximum=1.0, exclusive_minimum=exclusive_minimum,
                 exclusive_maximum=exclusive_maximum, hidden=hidden)


def _valid_regex(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    return None


def _steps_increasing(steps: tuple[int, ...]) -> str | None:
    if any(b <= a for a, b in zip(steps, steps[1:])):
        return "epochs must be strictly increasing"
    return None


def _kv_servers(text: str) -> str:
    if text.strip().lower() == "auto":
        return "auto"
    try:
        count = parse_int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError("'auto' or a positive integer")
    return str(count)


PARAMS = [
    Param("num_classes", parse_int, doc="Number of object classes (background not counted)", minimum=1),
    Param("num_training_samples", parse_int, doc="Number of training images", minimum=1),
    Param("base_network", parse_str, "vgg-16", "Base network", choices=BASE_NETWORKS),
    Param("early_stopping", parse_bool, False, "Stop when validation mAP stops improving"),
    Param("early_stopping_min_epochs", parse_int, 10, "Epochs before early stopping may act", minimum=1),
    Param("early_stopping_patience", parse_int, 5, "Epochs without improvement before stopping", minimum=1),
    _unit("early_stopping_tolerance", 0.0, "Relative mAP improvement below this counts as none"),
    Param("epochs", parse_int, 30, "Training epochs", minimum=1),
    Param("freeze_layer_pattern", parse_str, "", "Regex (re.match) of base-network parameters to freeze",
          check=_valid_regex),
    Param("image_shape", parse_int, 300, "Side of the square network input, in pixels",
          minimum=MIN_IMAGE_SHAPE),
    Param("kv_store", parse_str, "device", "Distributed update mode", choices=KV_STORES),
    Param("label_width", parse_int, 350, "Padded label length of a record (2 + 5 x objects)",
          minimum=MIN_LABEL_WIDTH),
    Param("learning_rate", parse_float, 0.001, "Initial learning rate", minimum=0.0, maximum=1.0,
          exclusive_minimum=True),
    _unit("lr_scheduler_factor", 0.1, "Learning-rate multiplier at each step epoch",
          exclusive_minimum=True, exclusive_maximum=True),
    Param("lr_scheduler_step", parse_int_list, (), "Epochs after which the rate is multiplied",
          minimum=1, check=_steps_increasing),
    Param("mini_batch_size", parse_int, 32, "Batch size per machine", minimum=1),
    _unit("momentum", 0.9, "Momentum for sgd"),
    _unit("nms_threshold", 0.45, "IoU above which non-maximum suppression drops a box", exclusive_minimum=True),
    Param("optimizer", parse_str, "sgd", "Optimizer", choices=OPTIMIZERS),
    _unit("overlap_threshold", 0.5, "IoU a detection needs to count as correct in mAP", exclusive_minimum=True),
    Param("use_pretrained_model", parse_int, 0, "Start from ImageNet weights of the base network",
          choices=(0, 1)),
    WARM_START_MODE,
    _unit("weight_decay", 0.0005, "Weight decay for sgd and rmsprop", exclusive_maximum=True),
    # Keys the container's default-input.json carries and hyperparams.json reports.
    Param("nms_topk", parse_int, 400, "Best candidates kept through NMS (detections per image)",
          minimum=1, hidden=True),
    Param("_kvstore", parse_str, "device", "Update mode used when kv_store is left at 'device'",
          choices=KV_STORES, hidden=True),
    Param("_num_kv_servers", _kv_servers, "auto", "Parameter servers in distributed training", hidden=True),
    Param("_tuning_objective_metric", parse_str, "", "Set by hyperparameter tuning jobs", hidden=True),
]


SCHEMA = Schema("object-detection", PARAMS, typed=ObjectDetectionHyperparameters)


def effective_kv_store(hp: Hyperparameters) -> str:
    """`kv_store` as documented; the hidden `_kvstore` applies when `kv_store` keeps its default."""
    return hp.kv_store if hp.kv_store != "device" else hp._kvstore


def architecture(hp: Hyperparameters) -> dict[str, str]:
    """What an incremental-training model must share with this job (DG-OD), as the strings
    hyperparams.json stores."""
    strings = hp.as_strings()
    return {key: strings[key] for key in ("base_network", "num_classes")}
