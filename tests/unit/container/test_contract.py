"""The /opt/ml contract round trip: what the emulator writes is what the container reads.

The emulator side (config files, staged channels, Pipe FIFOs, Docker mounts, the failure
reason) and the container side (container.config, the failure file, the warm start's volume
budget) both go through container.contract; these tests fail when one side changes alone.
"""
import json
import subprocess
import sys
from pathlib import Path

from algorithms.common.warm_start import volume_budget
from container.config import TrainingEnv
from container.contract import DEFAULT_BASE_DIR, TRAINING_JOB_MEMBERS, MLPaths, ResourceConfig
from container.errors import ClientError, failure_message, write_failure
from container.tarsafe import GIB
from emulator.configfiles import write_config_files
from emulator.lifecycle import failure_reason_from
from emulator.pipe import fifo_path
from emulator.runners.base import HostLayout, RunRequest
from emulator.spec import TrainingJobSpec
from emulator.staging import channel_dir

ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/contract-job"


def spec(**members):
    request = {
        "TrainingJobName": "contract-job", "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "AlgorithmSpecification": {"TrainingInputMode": "File", "AlgorithmName": "object-detection"},
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "HyperParameters": {"epochs": "2", "optimizer": "\"sgd\""},
        "InputDataConfig": [
            {"ChannelName": "train", "ContentType": "application/x-recordio; label-format=class-id",
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/train/",
                                             "S3DataDistributionType": "ShardedByS3Key"}}},
            {"ChannelName": "validation", "InputMode": "Pipe", "CompressionType": "Gzip", "RecordWrapperType": "RecordIO",
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/val/"}}},
        ],
        "ResourceConfig": {"InstanceType": "ml.c5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 3},
        "CheckpointConfig": {"S3Uri": "s3://b/ckpt/"},
        "Environment": {"SECRET": "not for the config files"},
        **members,
    }
    return TrainingJobSpec.from_request(request)


def test_what_the_emulator_writes_the_container_reads(tmp_path):
    job = spec()
    write_config_files(job, "algo-2", tmp_path, "/opt/ml/checkpoints/", ARN)
    env = TrainingEnv.read(MLPaths(tmp_path))
    assert env.hyperparameters == {"epochs": "2", "optimizer": "sgd"}  # SDK v2's JSON strings unwrapped
    assert env.channels == {c.name: c.config() for c in job.channels}
    assert env.channels["train"].distribution == "ShardedByS3Key" and env.channels["validation"].is_pipe
    assert env.channels["train"].base_content_type == "application/x-recordio"
    assert env.channels["train"].content_type_param("label-format") == "class-id"
    assert env.resources == ResourceConfig("algo-2", ("algo-1", "algo-2"), "eth0", "ml.c5.xlarge")
    assert env.resources.host_rank == 1 and env.resources.is_distributed
    assert env.checkpoint_dir == Path("/opt/ml/checkpoints")


def test_trainingjobconfig_holds_the_request_in_part_and_bounds_the_warm_start(tmp_path):
    job = spec()
    write_config_files(job, "algo-1", tmp_path, None, ARN)
    written = json.loads(MLPaths(tmp_path).training_job_config.read_text())
    assert written["TrainingJobName"] == "contract-job" and written["TrainingJobArn"] == ARN
    assert written["ResourceConfig"] == {"InstanceType": "ml.c5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 3}
    assert set(written) <= set(TRAINING_JOB_MEMBERS) and "Environment" not in written
    channel_dir(tmp_path, "train").mkdir(parents=True)
    (channel_dir(tmp_path, "train") / "data.rec").write_bytes(b"x" * 1000)
    (budget,) = volume_budget(TrainingEnv.read(MLPaths(tmp_path)))
    assert budget.max_bytes == 3 * GIB - 1000  # the volume less the staged input data


def test_without_a_checkpoint_config_the_container_sees_none(tmp_path):
    write_config_files(spec(CheckpointConfig=None), "algo-1", tmp_path, None, ARN)
    assert TrainingEnv.read(MLPaths(tmp_path)).checkpoint_dir is None


def test_staged_channels_and_pipes_are_where_the_container_looks(tmp_path):
    paths = MLPaths(tmp_path)
    assert channel_dir(tmp_path, "train") == paths.channel("train")
    assert fifo_path(tmp_path, "validation", 3) == paths.pipe("validation", 3) == paths.data / "validation_3"


def test_docker_mounts_put_each_host_tree_at_the_containers_base(tmp_path):
    from emulator.runners.docker_runner import DockerRunner

    host = HostLayout("algo-1", tmp_path / "algo-1")
    request = RunRequest(job_name="j", algorithm="object-detection", image="i", instance_type="local", hosts=[host])
    runner = DockerRunner(client=object(), host_capacity=object(), model_store=tmp_path / "no-store")
    mounts = {m["Target"]: m["Source"] for m in runner.mounts(request, host) if m["Target"].startswith(DEFAULT_BASE_DIR + "/")}
    inside, outside = MLPaths(Path(DEFAULT_BASE_DIR)), MLPaths(host.base)
    assert mounts == {str(inside.input_config): str(outside.input_config), str(inside.data): str(outside.data),
                      str(inside.model): str(outside.model), str(inside.output): str(outside.output)}


def test_the_failure_file_the_container_writes_is_the_failure_reason(tmp_path):
    write_failure(MLPaths(tmp_path).failure, failure_message(ClientError("bad value for 'epochs'" + "x" * 2000)))
    reason = failure_reason_from(tmp_path, 2)
    assert reason.startswith("ClientError: bad value for 'epochs'") and len(reason) == 1024
    assert failure_reason_from(tmp_path / "nothing", 137) == "AlgorithmError: , exit code: 137"


def test_the_contract_needs_only_the_standard_library():
    code = "import sys; before = set(sys.modules); import container.contract; print(*set(sys.modules) - before)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[3])
    outside = {m.split(".")[0] for m in loaded.stdout.split()} - set(sys.stdlib_module_names) - {"container"}
    assert "container.contract" in loaded.stdout.split() and not outside, outside
