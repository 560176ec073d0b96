import json

from emulator.configfiles import write_config_files
from emulator.spec import TrainingJobSpec


def spec_for(**overrides):
    req = {
        "TrainingJobName": "cfg-job",
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "AlgorithmSpecification": {"TrainingInputMode": "File", "AlgorithmName": "object-detection"},
        "OutputDataConfig": {"S3OutputPath": "/tmp/out"},
        "HyperParameters": {"epochs": "2", "optimizer": "\"sgd\""},
        "InputDataConfig": [
            {"ChannelName": "train", "ContentType": "application/x-recordio",
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/train/",
                                             "S3DataDistributionType": "ShardedByS3Key"}}},
            {"ChannelName": "validation", "InputMode": "Pipe", "CompressionType": "Gzip",
             "RecordWrapperType": "RecordIO",
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/val/"}}},
        ],
        "ResourceConfig": {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 3, "VolumeSizeInGB": 5},
    }
    req.update(overrides)
    return TrainingJobSpec.from_request(req)


def read(base, name):
    return json.loads((base / "input" / "config" / name).read_text())


def test_hyperparameters_are_written_as_sent(tmp_path):
    write_config_files(spec_for(), "algo-1", tmp_path, None)
    assert read(tmp_path, "hyperparameters.json") == {"epochs": "2", "optimizer": "\"sgd\""}


def test_input_data_config_carries_every_key_real_jobs_carry(tmp_path):
    write_config_files(spec_for(), "algo-1", tmp_path, None)
    assert read(tmp_path, "inputdataconfig.json") == {
        "train": {"ContentType": "application/x-recordio", "TrainingInputMode": "File",
                  "S3DistributionType": "ShardedByS3Key", "RecordWrapperType": "None", "CompressionType": "None"},
        "validation": {"TrainingInputMode": "Pipe", "S3DistributionType": "FullyReplicated",
                       "RecordWrapperType": "RecordIO", "CompressionType": "Gzip"},
    }


def test_resource_config_per_host(tmp_path):
    spec = spec_for()
    for host in spec.hosts:
        write_config_files(spec, host, tmp_path / host, None)
    config = read(tmp_path / "algo-2", "resourceconfig.json")
    assert config == {
        "current_host": "algo-2",
        "current_instance_type": "ml.p3.2xlarge",
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1", "algo-2", "algo-3"],
        "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": "ml.p3.2xlarge",
                             "hosts": ["algo-1", "algo-2", "algo-3"]}],
        "network_interface_name": "eth0",
    }
    assert read(tmp_path / "algo-1", "resourceconfig.json")["current_host"] == "algo-1"


def test_checkpoint_config_only_when_set(tmp_path):
    write_config_files(spec_for(), "algo-1", tmp_path / "a", None)
    assert not (tmp_path / "a" / "input" / "config" / "checkpointconfig.json").exists()
    spec = spec_for(CheckpointConfig={"S3Uri": "s3://b/ckpt/"})
    write_config_files(spec, "algo-1", tmp_path / "b", spec.checkpoint_local_path)
    assert read(tmp_path / "b", "checkpointconfig.json") == {"LocalPath": "/opt/ml/checkpoints/",
                                                             "S3Uri": "s3://b/ckpt/"}
