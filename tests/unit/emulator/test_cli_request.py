import json

import pytest
from click.testing import CliRunner

from emulator.cli import main
from emulator.cli_request import parse_channel
from emulator.spec import TrainingJobSpec


def dry_run(tmp_path, *args):
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "home"), "train", "--dry-run", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_flags_build_a_valid_create_training_job_request(tmp_path):
    hp_file = tmp_path / "hp.json"
    hp_file.write_text(json.dumps({"epochs": 2, "use_pretrained_model": True, "optimizer": "sgd"}))
    request = dry_run(tmp_path, "--algorithm", "object-detection", "--hp", "mini_batch_size=4",
                      "--hyperparameters", str(hp_file), "--hp", "epochs=3",
                      "--channel", "train=s3://bucket/train/,content_type=application/x-recordio,input_mode=Pipe,"
                                   "distribution=ShardedByS3Key,compression=Gzip,record_wrapper=RecordIO,shuffle_seed=5",
                      "--model-uri", "s3://bucket/out/job/output/model.tar.gz",
                      "--instance-count", "2", "--max-runtime", "600", "--checkpoint-uri", "s3://bucket/ckpt")
    assert request["AlgorithmSpecification"] == {"AlgorithmName": "object-detection", "TrainingInputMode": "File"}
    assert request["TrainingJobName"].startswith("object-detection-")
    assert request["HyperParameters"] == {"epochs": "3", "use_pretrained_model": "true", "optimizer": "sgd",
                                          "mini_batch_size": "4"}
    train, model = request["InputDataConfig"]
    assert train == {"ChannelName": "train", "ContentType": "application/x-recordio", "InputMode": "Pipe",
                     "CompressionType": "Gzip", "RecordWrapperType": "RecordIO", "ShuffleConfig": {"Seed": 5},
                     "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/train/",
                                                     "S3DataDistributionType": "ShardedByS3Key"}}}
    assert model == {"ChannelName": "model", "ContentType": "application/x-sagemaker-model", "InputMode": "File",
                     "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                     "S3Uri": "s3://bucket/out/job/output/model.tar.gz",
                                                     "S3DataDistributionType": "FullyReplicated"}}}
    assert request["ResourceConfig"] == {"InstanceType": "local", "InstanceCount": 2, "VolumeSizeInGB": 30}
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    assert request["CheckpointConfig"] == {"S3Uri": "s3://bucket/ckpt", "LocalPath": "/opt/ml/checkpoints/"}
    assert request["OutputDataConfig"]["S3OutputPath"] == str(tmp_path / "home" / "output")
    TrainingJobSpec.from_request(request)  # the API would accept it as well


def test_flags_override_a_spec_file(tmp_path):
    spec = {"TrainingJobName": "from-file", "RoleArn": "arn:aws:iam::111122223333:role/R",
            "AlgorithmSpecification": {"TrainingImage": "811284229777.dkr.ecr.us-east-1.amazonaws.com/"
                                                        "image-classification:1", "TrainingInputMode": "Pipe"},
            "HyperParameters": {"epochs": "1", "num_classes": "2"},
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": "s3://b/old/"}}}],
            "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
            "ResourceConfig": {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50}}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    request = dry_run(tmp_path, "--spec", str(path), "--hp", "epochs=4", "--channel", "train=/data/new")
    assert request["TrainingJobName"] == "from-file" and request["RoleArn"].startswith("arn:aws:iam::1111")
    assert request["AlgorithmSpecification"]["TrainingInputMode"] == "Pipe"  # not overridden by the default
    assert request["HyperParameters"] == {"epochs": "4", "num_classes": "2"}
    assert [c["DataSource"]["S3DataSource"]["S3Uri"] for c in request["InputDataConfig"]] == ["/data/new"]
    assert request["ResourceConfig"] == {"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50}
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://b/out"}
    assert TrainingJobSpec.from_request(request).algorithm == "image-classification"


def test_image_with_a_different_algorithm_sets_the_environment(tmp_path):
    request = dry_run(tmp_path, "--image", "smlocal:cpu", "--algorithm", "semantic-segmentation")
    assert request["AlgorithmSpecification"]["TrainingImage"] == "smlocal:cpu"
    assert request["Environment"] == {"SAGEMAKER_ALGORITHM": "semantic-segmentation"}


@pytest.mark.parametrize("text, message", [
    ("train", "expected KEY=VALUE"),
    ("train=", "needs a location"),
    ("train=/d,colour=red", "unknown channel option 'colour'"),
    ("train=/d,shuffle_seed=x", "shuffle_seed must be an integer"),
])
def test_bad_channel_flags_are_explained(text, message):
    with pytest.raises(Exception, match=message):
        parse_channel(text)


def test_augmented_manifest_attribute_names(tmp_path):
    channel = parse_channel("train=s3://b/m.manifest,s3_data_type=AugmentedManifestFile,"
                            "attribute_names=source-ref;class,input_mode=Pipe")
    assert channel["DataSource"]["S3DataSource"]["AttributeNames"] == ["source-ref", "class"]


def test_invalid_request_exits_2_with_sagemaker_wording(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "train", "--algorithm", "image-classification",
                                       "--job-name", "bad_name"])
    assert result.exit_code == 2
    assert "ValidationException: 1 validation error detected: Value 'bad_name' at 'trainingJobName'" in result.output
    assert not (tmp_path / "jobs").exists()


def test_missing_algorithm_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["--home", str(tmp_path), "train"])
    assert result.exit_code == 2 and "--algorithm" in result.output
