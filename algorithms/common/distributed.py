"""Training workers: one per host, joined through MXNet's parameter server on several hosts.

One machine uses kvstore `device` (GPUs) or `local` (CPU). Several hosts use `dist_sync`
(unless `dist_async` is asked for); the container's launcher has started the scheduler and
servers and set the DMLC_* variables (container.launcher).

With `dist_sync` the workers move in lockstep, so every decision that ends a loop must be the
same on all of them, or one worker waits forever for the others. `WorkerGroup` makes those
decisions together: the end of an epoch (when every worker has run out of data; a worker whose
part ended first takes idle steps meanwhile, so each worker trains on every sample of its part
exactly once per epoch), a stop (when any worker got SIGTERM), validation metrics (summed over the workers' parts) and BatchNorm
statistics (averaged; the parameter server only synchronises trained weights). These use the
kvstore as an all-reduce: with the optimizer running on the workers (`update_on_kvstore`
off), a server only sums what the workers push under a key. The optimizer state then lives in
each worker too, so checkpoints can save it.

With `dist_async` there is no lockstep: each worker runs through its own data and decides for
itself; the servers apply updates as they arrive.

Host 1 (`rank` 0 here, the first of resourceconfig.json's sorted hosts) writes the model and
the checkpoints. MXNet's own `kv.rank` follows the order in which workers reached the
scheduler, so it is not used for that.

MXNet does not allow string and integer keys in one kvstore. Module addresses it by parameter
name, gluon.Trainer by parameter index; `worker_group(..., integer_keys=True)` makes the group's
own keys integers too, for use next to gluon.Trainer.
"""
from __future__ import annotations

import os
import zlib

import mxnet as mx
import numpy as np

from container.config import ChannelConfig, ResourceConfig
from container.errors import AlgorithmError
from container.logs import get_logger
from container.stop import StopSignal

DIST_KINDS = ("dist_sync", "dist_async")
_KEY_PREFIX = "__worker_group__"
# Integer keys of the group's own exchanges: above gluon.Trainer's parameter indices, and below
# 2**31 / 9973, because KVStoreDist picks a key's server with `key * 9973` in a C int.
_INT_KEY_BASE = 100_000
_INT_KEY_RANGE = 100_000
# The distributed kvstore of this process. Freeing a KVStore runs MXNet's exit barrier, which
# waits for every other worker: when training fails here the others are still training, so the
# store must not be freed when the failed job's objects go away. Held here, it is freed at
# interpreter exit after a success (barrier, servers stopped), and never after a failure (the
# worker leaves with os._exit and the launchers end the rest; container.entry).
_KEEP_ALIVE: list[mx.kvstore.KVStore] = []


class WorkerGroup:
    def __init__(self, kv, rank: int = 0, size: int = 1, integer_keys: bool = False) -> None:
        self.kv = kv  # what Module / gluon.Trainer take: a KVStore, or a type name for one device
        self.rank = rank
        self.size = size
        self.integer_keys = integer_keys
        self._keys: dict[str | int, tuple[int, ...]] = {}
        self._key_names: dict[int, str] = {}

    # ---- who is who --------------------------------------------------------------------------
    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def synchronous(self) -> bool:
        return self.distributed and self.kv.type == "dist_sync"

    @property
    def is_leader(self) -> bool:
        """True on the host that writes /opt/ml/model and the checkpoints (host 1)."""
        return self.rank == 0

    @property
    def optimizer_on_servers(self) -> bool:
        """dist_async updates on the servers; its optimizer state cannot be saved by a worker."""
        return self.distributed and not self.synchronous

    def part_of(self, channel: ChannelConfig) -> tuple[int, int]:
        """(part_index, num_parts) of a channel's records this worker trains on: a share of
        FullyReplicated data, all of its own ShardedByS3Key shard."""
        if self.distributed and channel.distribution == "FullyReplicated":
            return self.rank, self.size
        return 0, 1

    # ---- decisions made together ------------------------------------------------------------
    def keep_going(self, has_batch: bool, stop: StopSignal) -> bool:
        """Called before every training batch: True while some worker has a batch and none was
        asked to stop. A stop on any worker is raised on all (`stop.requested` becomes True).
        With dist_sync a worker without a batch must still take the step, with no gradient
        (`idle_module_step`, `idle_trainer_step`): the epoch has max(batches of each part) steps."""
        if not self.synchronous:
            return has_batch and not stop.requested
        stops, batches = self.all_sum("batch", [float(stop.requested), float(has_batch)])
        if stops:
            stop.request()
        return not stops and batches > 0

    def share_stop(self, stop: StopSignal) -> None:
        """A stop that arrived on any worker (e.g. during validation) becomes a stop on all."""
        if self.synchronous and self.all_sum("stop", [float(stop.requested)])[0]:
            stop.request()

    def all_sum(self, name: str, values) -> np.ndarray:
        """Element-wise sum over the workers (dist_sync), or the values themselves.

        MXNet 1.9.1's parameter server carries the values as float32, also when the arrays are
        float64 (a float64 push of 54997.206944602825 is pulled as 54997.20703125), so sums are
        float32 sums: integers are exact below 2**24. `broadcast` is exact."""
        values = np.asarray(values, dtype=np.float64)
        if not self.synchronous:
            return values
        key, array = self._key(name), mx.nd.array(values, dtype="float32")
        if self._keys.get(key) != values.shape:
            if key in self._keys:
                raise ValueError(f"all_sum({name!r}) needs the same shape every time")
            self.kv.init(key, mx.nd.zeros(values.shape, dtype="float32"))
            self._keys[key] = values.shape
        self.kv.push(key, array)
        out = mx.nd.zeros(values.shape, dtype="float32")
        self.kv.pull(key, out=out)
        return out.asnumpy().astype(np.float64)

    def _key(self, name: str) -> str | int:
        if not self.integer_keys:
            return _KEY_PREFIX + name
        # Derived from the name, so it does not depend on the order of first use.
        key = _INT_KEY_BASE + zlib.crc32(name.encode()) % _INT_KEY_RANGE
        if self._key_names.setdefault(key, name) != name:
            raise ValueError(f"kvstore key {key} of {name!r} is taken by {self._key_names[key]!r}")
        return key

    def all_gather(self, name: str, rows) -> np.ndarray:
        """Every worker's rows (n_i, width) stacked in host order (dist_sync), or the rows
        themselves. Row counts may differ between workers and calls; the width may not."""
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2:
            raise ValueError(f"all_gather({name!r}) needs a 2-D array of rows")
        if not self.synchronous:
            return rows
        counts = np.zeros(self.size)
        counts[self.rank] = len(rows)
        counts = self.all_sum(f"{name}-rows", counts).astype(int)
        total, start = int(counts.sum()), int(counts[:self.rank].sum())
        # Each worker writes its rows into its own slice of a zero buffer; the sum is the
        # concatenation. The buffer length is rounded up to a power of two, so the varying row
        # counts use a few keys (each key has one shape) rather than one per count.
        capacity = 1 << max(total - 1, 0).bit_length()
        buffer = np.zeros((capacity, rows.shape[1]))
        buffer[start:start + len(rows)] = rows
        return self.all_sum(f"{name}-{capacity}", buffer)[:total]

    def broadcast(self, name: str, values) -> np.ndarray:
        """Host 1's values on every worker (dist_sync; e.g. a score only host 1 computed), or the
        values themselves."""
        values = np.asarray(values, dtype=np.float64)
        if not self.synchronous:
            return values
        # Exactly, through the float32 transport (see all_sum): each float64 travels as three
        # float32 parts whose sum is the value (24 + 24 + 24 bits >= its 53), and the other
        # workers add zeros.
        parts = _float32_parts(values.ravel()) if self.is_leader else np.zeros((3, values.size))
        return self.all_sum(name, parts).sum(axis=0).reshape(values.shape)

    def differs_from_leader(self, name: str, values) -> bool:
        """dist_sync: True when `values` differ from host 1's (e.g. a checksum of the weights,
        which lockstep training keeps identical on every worker)."""
        if not self.synchronous:
            return False
        values = np.asarray(values, dtype=np.float64)
        return not np.array_equal(self.broadcast(name, values), values, equal_nan=True)

    def sum_metric(self, metric: mx.metric.EvalMetric, name: str) -> None:
        """Turn a metric updated on this worker's part into the metric over all parts."""
        if not self.synchronous:
            return
        parts = metric.metrics if isinstance(metric, mx.metric.CompositeEvalMetric) else [metric]
        totals = self.all_sum("metric-" + name, [v for m in parts for v in (m.sum_metric, m.num_inst)])
        for i, part in enumerate(parts):
            part.sum_metric, part.num_inst = float(totals[2 * i]), int(totals[2 * i + 1])
            part.global_sum_metric, part.global_num_inst = part.sum_metric, part.num_inst

    def average_arrays(self, arrays: dict[str, mx.nd.NDArray], name: str) -> dict[str, mx.nd.NDArray]:
        """Mean of each array over the workers (dist_sync), in one exchange."""
        if not self.synchronous or not arrays:
            return arrays
        return _unflatten(self.all_sum(name, _flatten(arrays)) / self.size, arrays)

    # ---- Module helpers ---------------------------------------------------------------------
    def start_module(self, module: mx.mod.Module) -> None:
        """After `init_optimizer`: every worker starts from the same weights (those the kvstore
        was seeded with, and host 1's BatchNorm statistics). With the optimizer on the workers,
        Module only seeds the kvstore and would leave each worker with its own random
        initialisation."""
        if not self.synchronous or module._update_on_kvstore:
            return
        arg, aux = module.get_params()
        for name, value in arg.items():
            if name in module._exec_group.param_names:
                self.kv.pull(name, out=value)
        if aux:
            aux = _unflatten(self.broadcast("aux-start", _flatten(aux)), aux)
        module.set_params(arg, aux)

    def sync_batchnorm_statistics(self, module: mx.mod.Module) -> None:
        """Average the BatchNorm running statistics, which the parameter server leaves per worker,
        so validation and the saved model use the same network on every worker."""
        if not self.synchronous:
            return
        arg, aux = module.get_params()
        module.set_params(arg, self.average_arrays(aux, "aux"))

    # ---- Gluon helpers (with integer_keys=True) -----------------------------------------------
    def start_parameters(self, params: mx.gluon.ParameterDict) -> None:
        """Before training: host 1's values of the parameters gluon.Trainer does not distribute
        (grad_req 'null': BatchNorm statistics, frozen layers). The Trainer gives every worker
        the same trainable weights when it first touches the kvstore."""
        fixed = {name: p for name, p in params.items() if p.grad_req == "null"}
        if not self.synchronous or not fixed:
            return
        current = _first_copies(fixed)
        values = _unflatten(self.broadcast("gluon-start", _flatten(current)), current)
        for name, param in fixed.items():
            param.set_data(values[name])

    def start_trainer(self, trainer: mx.gluon.Trainer) -> None:
        """Before the first batch: gluon.Trainer puts the weights into the kvstore and pulls them
        back, and this waits for it. Left to the first `step()`, that pull races with the step's
        own push under the same key, and a worker can receive the summed gradients as its
        weights (seen with MXNet 1.9.1 and dist_sync). Gluon has no public call for this."""
        if not self.distributed:
            return
        for param in trainer._params:  # noqa: SLF001
            # An inference pass on the CPU leaves MKLDNN's own weight layout in the arrays, and
            # the parameter server then loses keys ("init N first"); fresh arrays are plain.
            param.reset_ctx(param.list_ctx())
        trainer._init_kvstore()  # noqa: SLF001
        trainer._init_params()  # noqa: SLF001
        mx.nd.waitall()

    def sync_running_statistics(self, params: mx.gluon.ParameterDict) -> None:
        """After every epoch: the mean of the BatchNorm running statistics over the workers (the
        parameter server does not synchronise them), so validation and the saved model use the
        same network on every worker."""
        if not self.synchronous:
            return
        running = {name: p for name, p in params.items() if name.endswith(("running_mean", "running_var"))}
        for name, value in self.average_arrays(_first_copies(running), "gluon-running").items():
            running[name].set_data(value)


def _float32_parts(values: np.ndarray) -> np.ndarray:
    """(3, n) float32-representable parts whose float64 sum is exactly `values`."""
    parts, rest = [], values
    for _ in range(3):
        part = rest.astype(np.float32).astype(np.float64)
        parts.append(part)
        rest = rest - part
    return np.stack(parts)


def idle_module_step(module: mx.mod.Module) -> None:
    """A lockstep step without samples: zero gradients go into the workers' sum, so this worker
    applies the same update as the others and its weights stay identical to theirs."""
    for grads in module._exec_group.grad_arrays:  # noqa: SLF001 - Module has no public gradient access
        for grad in grads:
            grad[:] = 0
    module.update()


def idle_trainer_step(trainer: mx.gluon.Trainer, scale: float) -> None:
    """`idle_module_step` for gluon.Trainer. The gradients are marked fresh: Trainer would
    otherwise refuse them as stale, or (ignore_stale_grad) skip their update on this worker only."""
    for param in trainer._params:  # noqa: SLF001
        if param.grad_req == "null":
            continue
        for grad in param.list_grad():
            grad[:] = 0
        for data in param.list_data():
            data._fresh_grad = True  # noqa: SLF001 - what backward() sets
    trainer.step(scale)


def _first_copies(params: dict[str, mx.gluon.Parameter]) -> dict[str, mx.nd.NDArray]:
    return {name: p.list_data()[0] for name, p in params.items()}


def _flatten(arrays: dict[str, mx.nd.NDArray]) -> np.ndarray:
    """All arrays as one vector (sorted by name), so they travel in one exchange."""
    return np.concatenate([arrays[n].asnumpy().ravel() for n in sorted(arrays)])


def _unflatten(flat: np.ndarray, like: dict[str, mx.nd.NDArray]) -> dict[str, mx.nd.NDArray]:
    out, offset = {}, 0
    for n in sorted(like):
        size = like[n].size
        out[n] = mx.nd.array(flat[offset:offset + size].reshape(like[n].shape), dtype=like[n].dtype)
        offset += size
    return out


def worker_group(requested: str | None, resources: ResourceConfig, num_devices: int, gpu: bool,
                 integer_keys: bool = False) -> WorkerGroup:
    """integer_keys: the group's own kvstore keys are integers (for gluon.Trainer, see above)."""
    log = get_logger()
    if resources.is_distributed:
        kind = requested if requested in DIST_KINDS else "dist_sync"
        if kind == "dist_sync":
            # Module and gluon.Trainer read this when they set up the optimizer (see above).
            os.environ["MXNET_UPDATE_ON_KVSTORE"] = "0"
        log.info("Distributed training on %d hosts with kv_store=%s", len(resources.hosts), kind)
        kv = mx.kv.create(kind)
        _KEEP_ALIVE.append(kv)
        if kv.num_workers != len(resources.hosts):
            raise AlgorithmError(f"The parameter-server group has {kv.num_workers} workers for "
                               f"{len(resources.hosts)} hosts")
        return WorkerGroup(kv, resources.host_rank, len(resources.hosts), integer_keys)
    if requested in DIST_KINDS:
        log.info("kv_store=%s is ignored on a single machine.", requested)
    kind = "device" if gpu else "local"
    # Module and gluon.Trainer skip the kvstore for one device.
    return WorkerGroup(kind if num_devices == 1 else mx.kv.create(kind), integer_keys=integer_keys)

