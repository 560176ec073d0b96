"""Which devices to train on: every GPU when present, else the CPU.

SMLOCAL_CPU_CONTEXTS=N splits the CPU into N contexts; it exercises the multi-device code path
(batch slicing, gradient aggregation) on machines without GPUs.
"""
from __future__ import annotations

import os

import mxnet as mx


def num_gpus() -> int:
    try:
        return mx.context.num_gpus()
    except mx.base.MXNetError:
        return 0


def training_contexts(environ: dict[str, str] | None = None) -> list[mx.Context]:
    env = os.environ if environ is None else environ
    gpus = num_gpus()
    if gpus:
        return [mx.gpu(i) for i in range(gpus)]
    count = max(1, int(env.get("SMLOCAL_CPU_CONTEXTS", "1")))
    return [mx.cpu(i) for i in range(count)]


def uses_gpu(contexts: list[mx.Context]) -> bool:
    return any(c.device_type == "gpu" for c in contexts)


def cpu_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)))
