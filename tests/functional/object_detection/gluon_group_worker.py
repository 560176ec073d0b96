"""One worker of a two-worker `dist_sync` group, started with the DMLC_* variables by
tests/functional/distributed/test_od_gluon_group.py: gluon.Trainer next to the WorkerGroup's own
exchanges, as object detection uses them. Writes what it saw as JSON to the file named by argv[1];
argv[2] is the host rank (0 = algo-1)."""
import json
import sys

import mxnet as mx
from mxnet import autograd, gluon

from algorithms.common.distributed import worker_group
from algorithms.object_detection.train import lockstep_hosts
from container.config import ResourceConfig

HOSTS = ("algo-1", "algo-2")


def running(params):
    return {name: p for name, p in params.items() if name.endswith(("running_mean", "running_var"))}


def values(params) -> list[float]:
    """The distinct values held by the parameters."""
    return sorted({float(v) for p in params.values() for v in p.data().asnumpy().ravel()})


def main(out: str, rank: int) -> None:
    group = worker_group("dist_sync", ResourceConfig(current_host=HOSTS[rank], hosts=HOSTS), 1, False,
                         integer_keys=True)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(1, in_units=3, use_bias=False), gluon.nn.BatchNorm(in_channels=1))
    net.initialize(mx.init.One())
    params = net.collect_params()
    for p in running(params).values():  # each worker's own statistics
        p.set_data(mx.nd.full(p.shape, 10.0 * (rank + 1)))
    group.start_parameters(params)
    seen = {"started": values(running(params))}

    weight = net[0].weight
    trainer = gluon.Trainer([weight], "sgd", {"learning_rate": 1.0}, kvstore=group.kv)
    group.start_trainer(trainer)  # as DetectionJob does
    x = mx.nd.array([[1.0, 2.0, 3.0]]) * (rank + 1)  # the gradient of sum(W x) with respect to W is x
    with autograd.record():
        y = net[0](x).sum()
    y.backward()
    trainer.step(1 * lockstep_hosts(group))  # one device per host, as DetectionJob steps
    seen["weight"] = weight.data().asnumpy().ravel().tolist()

    for p in running(params).values():
        p.set_data(mx.nd.full(p.shape, 1.0 + 4 * rank))
    group.sync_running_statistics(params)
    seen["synced"] = values(running(params))

    seen["gathered"] = [group.all_gather("rows", [[rank, i] for i in range(rank + 1)]).tolist(),
                        group.all_gather("rows", [[rank, i] for i in range(3 * rank + 2)]).tolist()]
    seen["differs"] = [group.differs_from_leader("rank", [rank]), group.differs_from_leader("same", [42.0])]
    with open(out, "w") as handle:
        json.dump(seen, handle)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
