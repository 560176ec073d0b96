"""Image classification on several hosts through the emulator's process runner: MXNet's parameter
server started by each host's container, sharded data, one model, stops and failures."""
import json
import os
import re
import shutil
import signal
import time

import pytest

from container.entry import train
from emulator.sample_data import make_classification_set
from tests.epoch_log import assert_epoch_samples
from tests.ic_jobs import (Background, accuracy, channel, host_log, launcher_pid, model_files, processes_of,
                           request, run, submit)

# A 2-host job sees the same data (in two shards) with twice the batch (mini_batch_size is per
# host) and so half the steps per epoch; after 12 epochs both have learnt this data (the 2-host
# job from epoch 9 on). The stated tolerance for their validation accuracy: 10 points (3 of 32
# validation images).
EPOCHS = 12
TOLERANCE = 0.10
ARTIFACTS = ["image-classification-0012.params", "image-classification-symbol.json", "model-shapes.json"]


@pytest.mark.slow
def test_two_hosts_on_sharded_data_match_one_host(dist_data, tmp_path):
    validation = channel("validation", dist_data["validation"]["rec"])
    single = run(request("one-host", [channel("train", dist_data["shards"]), validation], tmp_path / "out",
                         epochs=EPOCHS, checkpoint_frequency=EPOCHS), tmp_path / "home")
    double = run(request("two-hosts", [channel("train", dist_data["shards"], distribution="ShardedByS3Key"),
                                       validation], tmp_path / "out", instance_count=2, epochs=EPOCHS,
                         checkpoint_frequency=EPOCHS), tmp_path / "home")
    for job in (single, double):
        assert job.result.status == "Completed", job.result.failure_reason
    assert double.result.exit_codes == {"algo-1": 0, "algo-2": 0}
    # Each host trained on its own half of the shards ...
    for host in ("algo-1", "algo-2"):
        assert "Channel 'train': 64 images" in host_log(double, host)
        assert "Distributed training on 2 hosts with kv_store=dist_sync" in host_log(double, host)
    # ... in lockstep: the same number of batches, the same validation accuracy every epoch.
    logged = {host: [line.split("] ", 2)[-1] for line in host_log(double, host).splitlines()
                     if "Validation-accuracy" in line] for host in ("algo-1", "algo-2")}
    assert len(logged["algo-1"]) == EPOCHS and logged["algo-1"] == logged["algo-2"]
    # One model, written by host 1 only.
    assert model_files(double.result) == ARTIFACTS
    assert not any((double.dir.host_base("algo-2") / "model").iterdir())
    one, two = (accuracy(job.result.model_artifacts, dist_data["validation"], tmp_path) for job in (single, double))
    assert one >= 0.9 and two >= 0.9, (one, two)
    assert abs(one - two) <= TOLERANCE, (one, two)


def test_sigterm_stops_every_host_together_and_host_1_saves_the_model(dist_data, tmp_path):
    body = request("stop-two-hosts", [channel("train", dist_data["train_rec"]),
                                      channel("validation", dist_data["validation"]["rec"])],
                   tmp_path / "out", instance_count=2, epochs=500, checkpoint_frequency=500)
    job = Background(submit(body, tmp_path / "home"))
    assert job.wait_for_log("Epoch[1] Validation-accuracy", timeout=180), job.log()[-3000:]
    stopped_at = time.monotonic()
    job.job.stop()
    assert job.join(timeout=60), "the job did not end after SIGTERM"
    took = time.monotonic() - stopped_at
    result = job.job.result
    assert result.status == "Stopped"
    assert result.exit_codes == {"algo-1": 0, "algo-2": 0}
    assert took < 30, took
    for host in ("algo-1", "algo-2"):
        log = host_log(job.job, host)
        assert "Training finished (stopped early by SIGTERM)." in log
        assert log.count("Stopping in epoch") == 1
    # Both workers stopped in the same epoch (they agree batch by batch) and host 1 saved it.
    epochs = {host: [line for line in host_log(job.job, host).splitlines() if "Stopping in epoch" in line][0]
              .split("Stopping in epoch ")[1].split(" ")[0] for host in ("algo-1", "algo-2")}
    assert epochs["algo-1"] == epochs["algo-2"]
    assert any(name.endswith(".params") for name in model_files(result))
    assert processes_of(job.job.dir.root) == {}


def test_sigterm_on_one_host_stops_the_other_host_too(dist_data, tmp_path):
    body = request("term-one-host", [channel("train", dist_data["train_rec"]),
                                     channel("validation", dist_data["validation"]["rec"])],
                   tmp_path / "out", instance_count=2, epochs=500, checkpoint_frequency=500)
    job = Background(submit(body, tmp_path / "home"))
    assert job.wait_for_log("Epoch[1] Validation-accuracy", timeout=180), job.log()[-3000:]
    os.kill(launcher_pid(job.job, "algo-2"), signal.SIGTERM)  # not through the emulator: host 2 alone
    assert job.join(timeout=60), "the job did not end after SIGTERM on algo-2"
    result = job.job.result
    assert result.status == "Completed"  # every host ended by itself with exit code 0
    assert result.exit_codes == {"algo-1": 0, "algo-2": 0}
    assert "Received SIGTERM" not in host_log(job.job, "algo-1")
    assert "Training finished (stopped early by SIGTERM)." in host_log(job.job, "algo-1")
    assert any(name.endswith(".params") for name in model_files(result))  # host 1 saved the stopped model
    assert processes_of(job.job.dir.root) == {}


def test_a_failure_on_one_host_ends_the_other_at_once(dist_data, tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a.rec").write_bytes(dist_data["train_rec"].read_bytes())
    (shards / "b.rec").write_bytes(b"this is not RecordIO")   # host 2's shard
    body = request("broken-shard", [channel("train", shards, distribution="ShardedByS3Key"),
                                    channel("validation", dist_data["validation"]["rec"])],
                   tmp_path / "out", instance_count=2, epochs=50)
    started = time.monotonic()
    job = run(body, tmp_path / "home", stop_grace_seconds=120)
    assert time.monotonic() - started < 60  # not the 120 s stop grace: host 1 ended when host 2 failed
    result = job.result
    assert result.status == "Failed"
    assert result.failure_reason == "ClientError: Corrupt RecordIO file b.rec: bad magic number at byte 0"
    # Host 1 ends itself (1) when its control link reports host 2's failure; on a loaded machine the
    # emulator's fail-fast SIGTERM can reach it while its interpreter is already exiting (handlers
    # restored to the default), which ends it by the signal (143). Either way it ended at once.
    assert result.exit_codes["algo-2"] == 2 and result.exit_codes["algo-1"] in (1, 143, -15)
    assert "Host algo-2 ended (exit code 2); ending training on algo-1 too." in host_log(job, "algo-1")
    assert not (job.dir.host_base("algo-1") / "output" / "failure").exists()
    assert processes_of(job.dir.root) == {}


def test_dist_async_from_pipe_mode_channels(dist_data, tmp_path):
    body = request("async-pipe", [channel("train", dist_data["train_rec"], mode="Pipe"),
                                  channel("validation", dist_data["validation"]["rec"], mode="Pipe")],
                   tmp_path / "out", instance_count=2, epochs=2, kv_store="dist_async")
    job = run(body, tmp_path / "home")
    assert job.result.status == "Completed", job.result.failure_reason
    for host in ("algo-1", "algo-2"):
        log = host_log(job, host)
        assert "with kv_store=dist_async" in log
        assert "Channel 'train' epoch 1: " in log and "Channel 'validation' epoch 1: " in log
        assert "Epoch[1] Validation-accuracy=" in log
    files = model_files(job.result)  # the best epoch's weights
    assert files[1:] == ["image-classification-symbol.json", "model-shapes.json"]
    assert files[0] in ("image-classification-0001.params", "image-classification-0002.params")
    assert not any((job.dir.host_base("algo-2") / "model").iterdir())


def test_semantic_segmentation_refuses_several_hosts(tmp_path):
    config = tmp_path / "input" / "config"
    config.mkdir(parents=True)
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]}))
    code = train({"SAGEMAKER_BASE_DIR": str(tmp_path), "SAGEMAKER_ALGORITHM": "semantic-segmentation"})
    assert code == 2
    assert (tmp_path / "output" / "failure").read_text().strip() == (
        "ClientError: Algorithm semantic-segmentation trains on a single instance only: InstanceCount must be 1, "
        "this job has 2 hosts (algo-1, algo-2)")


def test_two_jobs_share_the_loopback_without_port_clashes(dist_data, tmp_path):
    def body(name):
        return request(name, [channel("train", dist_data["train_rec"]),
                              channel("validation", dist_data["validation"]["rec"])],
                       tmp_path / "out", instance_count=2, epochs=1)
    jobs = [Background(submit(body(name), tmp_path / "home")) for name in ("first-pair", "second-pair")]
    for job in jobs:
        assert job.join(timeout=300)
        assert job.job.result.status == "Completed", job.job.result.failure_reason
    ports = {line.rsplit(":", 1)[1] for job in jobs for line in host_log(job.job, "algo-1").splitlines()
             if "Coordinating 2 host(s) on 127.0.0.1:" in line}
    assert len(ports) == 2


@pytest.mark.slow
def test_unequal_shards_train_every_image_once_per_epoch_in_lockstep(tmp_path):
    # Shards of 20 and 12 images in batches of 8: 3 and 2 batches. Host 2 takes its third step
    # without samples, so each host trains on its whole shard every epoch.
    shards = tmp_path / "shards"
    shards.mkdir()
    for name, per_class in (("a.rec", 5), ("b.rec", 3)):
        part = make_classification_set(tmp_path / name, 4, per_class, size=(32, 32), seed=per_class)
        shutil.copy(part["rec"], shards / name)
    validation = make_classification_set(tmp_path / "validation", 4, 4, size=(32, 32), seed=9)
    job = run(request("unequal-shards", [channel("train", shards, distribution="ShardedByS3Key"),
                                         channel("validation", validation["rec"])],
                      tmp_path / "out", instance_count=2, epochs=2, mini_batch_size=8, num_training_samples=32),
              tmp_path / "home")
    assert job.result.status == "Completed", job.result.failure_reason
    logs = {host: host_log(job, host) for host in ("algo-1", "algo-2")}
    counts = {host: int(re.search(r"Channel 'train': (\d+) images", log).group(1)) for host, log in logs.items()}
    assert sorted(counts.values()) == [12, 20]
    for host, log in logs.items():
        assert_epoch_samples(log, counts[host], [0, 1])
    # Both hosts validated every epoch (the accuracy is summed over them, so they agree).
    accuracies = {host: re.findall(r"Validation-accuracy=(\S+)", log) for host, log in logs.items()}
    assert len(accuracies["algo-1"]) == 2 and accuracies["algo-1"] == accuracies["algo-2"]
