"""The object-detection hyperparameters, typed. Generated from the schema by
`python -m algorithms.typed_hyperparameters --write`: do not edit."""
from __future__ import annotations

from dataclasses import dataclass

from algorithms.common.schema import HyperparameterValues


@dataclass(frozen=True, kw_only=True)
class ObjectDetectionHyperparameters(HyperparameterValues):
    num_classes: int
    'Number of object classes (background not counted)'
    num_training_samples: int
    'Number of training images'
    base_network: str = 'vgg-16'
    'Base network'
    early_stopping: bool = False
    'Stop when validation mAP stops improving'
    early_stopping_min_epochs: int = 10
    'Epochs before early stopping may act'
    early_stopping_patience: int = 5
    'Epochs without improvement before stopping'
    early_stopping_tolerance: float = 0.0
    'Relative mAP improvement below this counts as none'
    epochs: int = 30
    'Training epochs'
    freeze_layer_pattern: str = ''
    'Regex (re.match) of base-network parameters to freeze'
    image_shape: int = 300
    'Side of the square network input, in pixels'
    kv_store: str = 'device'
    'Distributed update mode'
    label_width: int = 350
    'Padded label length of a record (2 + 5 x objects)'
    learning_rate: float = 0.001
    'Initial learning rate'
    lr_scheduler_factor: float = 0.1
    'Learning-rate multiplier at each step epoch'
    lr_scheduler_step: tuple[int, ...] = ()
    'Epochs after which the rate is multiplied'
    mini_batch_size: int = 32
    'Batch size per machine'
    momentum: float = 0.9
    'Momentum for sgd'
    nms_threshold: float = 0.45
    'IoU above which non-maximum suppression drops a box'
    optimizer: str = 'sgd'
    'Optimizer'
    overlap_threshold: float = 0.5
    'IoU a detection needs to count as correct in mAP'
    use_pretrained_model: int = 0
    'Start from ImageNet weights of the base network'
    warm_start_mode: str = 'strict'
    "How the model channel's weights are used: strict (every parameter, num_classes must match) or transfer (parameters whose name and shape fit; the rest, e.g. the class layer, re-initialised)"
    weight_decay: float = 0.0005
    'Weight decay for sgd and rmsprop'
    nms_topk: int = 400
    'Best candidates kept through NMS (detections per image)'
    _kvstore: str = 'device'
    "Update mode used when kv_store is left at 'device'"
    _num_kv_servers: str = 'auto'
    'Parameter servers in distributed training'
    _tuning_objective_metric: str = ''
    'Set by hyperparameter tuning jobs'
