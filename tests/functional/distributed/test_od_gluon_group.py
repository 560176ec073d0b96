"""gluon.Trainer and WorkerGroup in one real `dist_sync` parameter-server group on loopback
(scheduler, server, two workers): integer keys side by side, the step's gradient scale with the
optimizer on the workers (MXNET_UPDATE_ON_KVSTORE=0), host 1's BatchNorm statistics at the start,
their mean after an epoch, and gathering rows of varying counts."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
WORKER = "tests.functional.object_detection.gluon_group_worker"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def group_run(tmp_path):
    """Run the scheduler, one server and the two workers; returns each worker's JSON."""
    processes = []

    def run():
        env = {**os.environ, "DMLC_PS_ROOT_URI": "127.0.0.1", "DMLC_PS_ROOT_PORT": str(free_port()),
               "DMLC_NUM_SERVER": "1", "DMLC_NUM_WORKER": "2", "DMLC_NODE_HOST": "127.0.0.1",
               "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
        for role in ("scheduler", "server"):
            processes.append(subprocess.Popen([sys.executable, "-c", "import mxnet"], cwd=ROOT,
                                              env=dict(env, DMLC_ROLE=role)))
        outputs = [tmp_path / f"worker-{rank}.json" for rank in (0, 1)]
        workers = [subprocess.Popen([sys.executable, "-m", WORKER, str(out), str(rank)], cwd=ROOT,
                                    env=dict(env, DMLC_ROLE="worker")) for rank, out in enumerate(outputs)]
        processes.extend(workers)
        for process in processes:
            assert process.wait(timeout=120) == 0, process.args
        return [json.loads(out.read_text()) for out in outputs]

    yield run
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_gluon_trainer_and_the_worker_group_share_one_parameter_server(group_run):
    host_1, host_2 = group_run()
    for seen in (host_1, host_2):
        # Host 1's BatchNorm statistics on both workers before training (10, not host 2's 20).
        assert seen["started"] == [10.0]
        # W starts at 1; the gradients are x and 2x for x = (1, 2, 3). The Trainer pulls their sum
        # and must divide by the two hosts: W = 1 - (x + 2x) / 2. Without the hosts in the step's
        # divisor W would be 1 - 3x = (-2, -5, -8).
        assert seen["weight"] == [-0.5, -2.0, -3.5]
        # Statistics 1 and 5 after an epoch: both workers continue with the mean.
        assert seen["synced"] == [3.0]
        # Rows of both workers in host order, whatever their counts (3, then 2 + 5 = 7 rows).
        assert seen["gathered"] == [[[0, 0], [1, 0], [1, 1]],
                                    [[0, 0], [0, 1], [1, 0], [1, 1], [1, 2], [1, 3], [1, 4]]]
    assert host_1["differs"] == [False, False] and host_2["differs"] == [True, False]
