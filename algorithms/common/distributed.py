"""KVStore selection: one machine uses `device` (GPUs) or `local` (CPU); several hosts use MXNet's
parameter server (`dist_sync` unless `dist_async` is asked for)."""
from __future__ import annotations

import mxnet as mx

from container.config import ResourceConfig
from container.logs import get_logger


def kvstore_for(requested: str | None, resources: ResourceConfig, num_devices: int, gpu: bool):
    if resources.is_distributed:
        kind = requested if requested in ("dist_sync", "dist_async") else "dist_sync"
        get_logger().info("Distributed training on %d hosts with kv_store=%s", len(resources.hosts), kind)
        return mx.kv.create(kind)
    if requested in ("dist_sync", "dist_async"):
        get_logger().info("kv_store=%s is ignored on a single machine.", requested)
    kind = "device" if gpu else "local"
    if num_devices == 1:
        return kind  # Module skips the kvstore for one device
    return mx.kv.create(kind)
