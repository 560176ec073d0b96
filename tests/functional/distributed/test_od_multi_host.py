"""Object detection on several hosts through the emulator's process runner: MXNet's parameter
server started by each host's container, gluon.Trainer with the optimizer on the workers, the
hosts in lockstep, one validation mAP, one model written by host 1."""
import os
import re
import signal

import pytest

from tests.functional.object_detection.emulated_jobs import (ARTIFACTS, detection_recs, logged_maps, object_count,
                                                             od_request)
from tests.epoch_log import assert_epoch_samples
from tests.ic_jobs import Background, channel, host_log, launcher_pid, model_files, processes_of, run, submit

HOSTS = ("algo-1", "algo-2")


@pytest.fixture(scope="module")
def od_shards(tmp_path_factory):
    """Training data in two .rec files of unequal size (4 and 2 images: 2 and 1 batches of 2),
    validation in two .rec files of one image each."""
    root = tmp_path_factory.mktemp("od-dist")
    train, _ = detection_recs(root, "train", [4, 2], seed=21)
    validation, validation_parts = detection_recs(root, "validation", [1, 1], seed=31)
    return {"train": train, "validation": validation, "validation_objects": object_count(validation_parts)}


@pytest.mark.slow
def test_two_hosts_train_in_lockstep_on_unequal_shards_and_host_1_writes_the_model(od_shards, tmp_path):
    body = od_request("od-two-hosts", [
        channel("train", od_shards["train"], distribution="ShardedByS3Key"),
        channel("validation", od_shards["validation"], distribution="ShardedByS3Key")],
        tmp_path / "out", instance_count=2)
    job = run(body, tmp_path / "home")
    assert job.result.status == "Completed", job.result.failure_reason
    assert job.result.exit_codes == {"algo-1": 0, "algo-2": 0}
    logs = {host: host_log(job, host) for host in HOSTS}
    for host, log in logs.items():
        assert "Distributed training on 2 hosts with kv_store=dist_sync" in log
        # Host 1's shard has 2 batches, host 2's 1: both take 2 steps, host 2's second one without
        # samples, so each host trains on its whole shard (and neither waits for the other forever).
        assert "Epoch[0] Time cost=" in log and "(2 batches of this host" in log
        # Each host scored its own validation image; the mAP pools both hosts' detections.
        assert (f"Validation of epoch 0: 1 images on this host; mAP over the {od_shards['validation_objects']} "
                f"ground-truth objects of all hosts") in log
    assert "Channel 'train': 4 images" in logs["algo-1"] and "Channel 'train': 2 images" in logs["algo-2"]
    assert_epoch_samples(logs["algo-1"], 4, [0])
    assert_epoch_samples(logs["algo-2"], 2, [0])
    maps = {host: logged_maps(log) for host, log in logs.items()}
    assert len(maps["algo-1"]) == 1 and maps["algo-1"] == maps["algo-2"]
    # Both hosts hold the same network after the epoch (gradients summed over the hosts, the same
    # update on each, BatchNorm statistics averaged), so host 1's model is the validated one.
    checksums = {host: re.findall(r"Epoch\[0\] network checksum (\S+ \S+) on ", log) for host, log in logs.items()}
    assert len(checksums["algo-1"]) == 1 and checksums["algo-1"] == checksums["algo-2"]
    # One model, written by host 1 only.
    assert model_files(job.result) == ARTIFACTS
    assert "Updating the best model" in logs["algo-1"] and "Updating the best model" not in logs["algo-2"]
    assert not any((job.dir.host_base("algo-2") / "model").iterdir())
    assert processes_of(job.dir.root) == {}


@pytest.mark.slow
def test_sigterm_on_one_host_stops_both_at_the_same_batch(od_shards, tmp_path):
    body = od_request("od-term-one-host", [channel("train", od_shards["train"]),
                                           channel("validation", od_shards["validation"])],
                      tmp_path / "out", instance_count=2, epochs=500, num_training_samples=6)
    job = Background(submit(body, tmp_path / "home"))
    assert job.wait_for_log("epoch=0, validation mAP", timeout=240), job.log()[-3000:]
    os.kill(launcher_pid(job.job, "algo-2"), signal.SIGTERM)  # not through the emulator: host 2 alone
    assert job.join(timeout=120), "the job did not end after SIGTERM on algo-2"
    result = job.job.result
    assert result.status == "Completed"  # every host ended by itself with exit code 0
    assert result.exit_codes == {"algo-1": 0, "algo-2": 0}
    logs = {host: host_log(job.job, host) for host in HOSTS}
    assert "Received SIGTERM" not in logs["algo-1"]
    stopped = {host: re.findall(r"Stopping in epoch (\d+) after SIGTERM", log) for host, log in logs.items()}
    assert len(stopped["algo-1"]) == 1 and stopped["algo-1"] == stopped["algo-2"]
    # The same steps on both hosts up to the stop: the networks' checksums agree in that epoch too.
    epoch = stopped["algo-1"][0]
    checksums = {host: re.findall(rf"Epoch\[{epoch}\] network checksum (\S+ \S+) on ", log)
                 for host, log in logs.items()}
    assert len(checksums["algo-1"]) == 1 and checksums["algo-1"] == checksums["algo-2"]
    assert model_files(result) == ARTIFACTS  # host 1 kept the best model
    assert processes_of(job.job.dir.root) == {}


@pytest.mark.slow
def test_dist_async_from_pipe_channels_checkpoints_without_optimizer_state(od_shards, tmp_path):
    body = od_request("od-async-pipe", [channel("train", od_shards["train"], mode="Pipe"),
                                        channel("validation", od_shards["validation"], mode="Pipe")],
                      tmp_path / "out", instance_count=2, kv_store="dist_async", num_training_samples=6)
    body["CheckpointConfig"] = {"S3Uri": str(tmp_path / "checkpoints")}
    job = run(body, tmp_path / "home")
    assert job.result.status == "Completed", job.result.failure_reason
    for host in HOSTS:
        log = host_log(job, host)
        assert "with kv_store=dist_async" in log
        assert "Channel 'train' epoch 0: " in log and "Channel 'validation' epoch 0: " in log
        assert "epoch=0, validation mAP <score>=(" in log
    assert model_files(job.result) == ARTIFACTS
    # The optimizer state lives on the parameter servers: host 1's checkpoint holds the model and
    # the loop state, and no trainer.states a resumed job could not use.
    checkpoint = sorted(p.name for p in job.dir.checkpoint_dir("algo-1").iterdir())
    assert checkpoint == ["best", "checkpoint-state.json", *ARTIFACTS]
    assert not any(job.dir.checkpoint_dir("algo-2").iterdir())


@pytest.mark.slow
def test_two_hosts_resume_from_host_1s_checkpoint_with_its_optimizer_state(od_shards, tmp_path):
    def job(name, epochs):
        body = od_request(name, [channel("train", od_shards["train"]), channel("validation", od_shards["validation"])],
                          tmp_path / "out", instance_count=2, epochs=epochs, num_training_samples=6)
        body["CheckpointConfig"] = {"S3Uri": str(tmp_path / "checkpoints")}  # copied to every host at the start
        return run(body, tmp_path / "home")

    first = job("od-first", 1)
    assert first.result.status == "Completed", first.result.failure_reason
    assert (tmp_path / "checkpoints" / "trainer.states").is_file()
    second = job("od-resumed", 2)
    assert second.result.status == "Completed", second.result.failure_reason
    for host in HOSTS:
        log = host_log(second, host)
        assert "Resuming from the checkpoint: 1 epoch(s) already completed." in log
        assert logged_maps(log)[0][0] == 1  # only epoch 1 was trained
    assert model_files(second.result) == ARTIFACTS
