"""Two hosts of an image-classification job as two containers of the built image (host network,
host names mapped): MXNet's parameter server across containers, a Pipe-mode channel, one model."""
from __future__ import annotations

import pytest

from emulator.jobhome import JobHome
from emulator.lifecycle import TrainingJob
from emulator.runners.docker_runner import DockerRunner
from emulator.spec import TrainingJobSpec
from tests.ic_jobs import channel, host_log, make_data, model_files, request

pytestmark = pytest.mark.docker


def test_two_containers_train_one_model_through_the_parameter_server(ic_image, tmp_path):
    data = make_data(tmp_path / "data")
    body = request("docker-two-hosts", [channel("train", data["shards"], mode="Pipe", distribution="ShardedByS3Key"),
                                        channel("validation", data["validation"]["rec"])],
                   tmp_path / "out", instance_count=2, epochs=2, checkpoint_frequency=2)
    body["AlgorithmSpecification"] = {"TrainingInputMode": "File", "TrainingImage": ic_image}
    job = TrainingJob.submit(TrainingJobSpec.from_request(body), JobHome(tmp_path / "home"), DockerRunner(),
                             stop_grace_seconds=30)
    job.run()
    assert job.result.status == "Completed", (job.result.failure_reason, host_log(job, "algo-1")[-3000:])
    assert job.result.exit_codes == {"algo-1": 0, "algo-2": 0}
    for host in ("algo-1", "algo-2"):
        log = host_log(job, host)
        assert "Distributed training on 2 hosts with kv_store=dist_sync" in log
        assert "Channel 'train': 64 images in train-epoch1.rec" in log  # its own shard, streamed per epoch
    assert "Starting the parameter-server scheduler on 127.0.0.1:" in host_log(job, "algo-1")
    assert "Joined algo-1 at 127.0.0.1:" in host_log(job, "algo-2")
    assert model_files(job.result) == ["image-classification-0002.params", "image-classification-symbol.json",
                                       "model-shapes.json"]
