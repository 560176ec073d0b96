"""Optimizers and learning-rate schedules, shared by all three algorithms."""
from __future__ import annotations

import math

import mxnet as mx


def batches_per_epoch(num_samples: int, batch_size: int, workers: int = 1) -> int:
    return max(1, math.ceil(num_samples / (batch_size * workers)))


def step_scheduler(
    step_epochs: tuple[int, ...], factor: float, epoch_batches: int, base_lr: float
) -> mx.lr_scheduler.LRScheduler | None:
    """Multiply the rate by `factor` after each listed epoch (epochs count from 1 as in the docs)."""
    steps = [e * epoch_batches for e in step_epochs if e > 0]
    if not steps:
        return None
    return mx.lr_scheduler.MultiFactorScheduler(step=steps, factor=factor, base_lr=base_lr)


def poly_scheduler(total_updates: int, base_lr: float, power: float = 0.9) -> mx.lr_scheduler.LRScheduler:
    """lr = base_lr * (1 - update/total_updates)^power, per update (GluonCV's segmentation schedule)."""
    return mx.lr_scheduler.PolyScheduler(max_update=max(1, int(total_updates)), base_lr=base_lr, pwr=power)


def cosine_scheduler(total_updates: int, base_lr: float) -> mx.lr_scheduler.LRScheduler:
    """lr = base_lr * (1 + cos(pi * update/total_updates)) / 2, per update."""
    return mx.lr_scheduler.CosineScheduler(max_update=max(1, int(total_updates)), base_lr=base_lr)


def optimizer_params(name: str, hp, learning_rate: float, scheduler, rescale_grad: float,
                     multi_precision: bool = False) -> dict:
    """Translate built-in hyperparameter names into MXNet optimizer arguments.

    `hp` is a mapping that may lack keys an algorithm does not define (e.g. gamma1/gamma2 for
    segmentation, gamma for classification)."""
    get = hp.get
    params = {"learning_rate": learning_rate, "rescale_grad": rescale_grad}
    if scheduler is not None:
        params["lr_scheduler"] = scheduler
    if name in ("sgd", "nag"):
        params.update(momentum=get("momentum", 0.9), wd=get("weight_decay", 0.0),
                      multi_precision=multi_precision)
    elif name == "adam":
        params.update(beta1=get("beta_1", 0.9), beta2=get("beta_2", 0.999), epsilon=get("eps", 1e-8),
                      wd=get("weight_decay", 0.0))
    elif name == "rmsprop":
        params.update(gamma1=get("gamma", get("gamma1", 0.9)), epsilon=get("eps", 1e-8),
                      wd=get("weight_decay", 0.0))
        if "gamma2" in hp:
            params.update(centered=True, gamma2=hp["gamma2"])
    elif name in ("adagrad", "adadelta"):
        params.update(wd=get("weight_decay", 0.0))
        if name == "adadelta":
            params.pop("learning_rate")  # adadelta has no learning rate
            params.pop("lr_scheduler", None)
    else:
        raise ValueError(f"unknown optimizer {name}")
    return params
