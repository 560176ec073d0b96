import re

import pytest

from emulator.spec import (
    DEFAULT_MAX_RUNTIME_SECONDS, DEFAULT_VOLUME_SIZE_GB, RequestValidationError, TrainingJobSpec, algorithm_of,
    default_job_name, training_job_arn,
)
from emulator.validation import operation_model

# The request's rules are botocore's model of CreateTrainingJob, quoted as the service quotes them.
JOB_NAME_PATTERN = "^" + operation_model("sagemaker", "CreateTrainingJob").input_shape.members[
    "TrainingJobName"].metadata["pattern"]


def request(**overrides):
    base = {
        "TrainingJobName": "ic-job-1",
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "AlgorithmSpecification": {"TrainingInputMode": "File", "AlgorithmName": "image-classification"},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "InputDataConfig": [channel("train")],
    }
    base.update(overrides)
    return base


def channel(name, uri="s3://bucket/train/", **members):
    s3 = {"S3DataType": "S3Prefix", "S3Uri": uri}
    s3.update(members.pop("s3", {}))
    return {"ChannelName": name, "DataSource": {"S3DataSource": s3}, **members}


def error_of(req) -> str:
    with pytest.raises(RequestValidationError) as info:
        TrainingJobSpec.from_request(req)
    return info.value.message


def test_minimal_request_gets_sdk_defaults():
    spec = TrainingJobSpec.from_request(request())
    assert spec.instance_count == 1 and spec.instance_type == "local"
    assert spec.volume_size_gb == DEFAULT_VOLUME_SIZE_GB
    assert spec.max_runtime_seconds == DEFAULT_MAX_RUNTIME_SECONDS
    train = spec.channel("train")
    assert (train.input_mode, train.distribution, train.compression, train.record_wrapper) == (
        "File", "FullyReplicated", "None", "None")
    assert spec.algorithm == "image-classification"
    assert spec.request["ResourceConfig"] == {"InstanceType": "local", "InstanceCount": 1, "VolumeSizeInGB": 30}


@pytest.mark.parametrize("name", ["my_job", "-job", "job.1", "a" * 64, ""])
def test_job_name_rules(name):
    message = error_of(request(TrainingJobName=name))
    assert message.startswith("1 validation error detected: ")
    assert f"Value '{name}' at 'trainingJobName' failed to satisfy constraint" in message


def test_job_name_pattern_message_names_the_pattern():
    assert f"regular expression pattern: {JOB_NAME_PATTERN}" in error_of(request(TrainingJobName="bad_name"))


def test_several_violations_are_reported_together():
    message = error_of(request(TrainingJobName="bad_name", ResourceConfig={"InstanceCount": 0}))
    assert message.startswith("2 validation errors detected: ")
    assert "resourceConfig.instanceCount" in message and "trainingJobName" in message


@pytest.mark.parametrize("bad_channel, where", [
    (channel("train data"), "inputDataConfig.1.member.channelName"),
    (channel("x" * 65), "inputDataConfig.1.member.channelName"),
    (channel("train", s3={"S3DataType": "Folder"}), "s3DataType"),
    (channel("train", s3={"S3DataDistributionType": "Random"}), "s3DataDistributionType"),
    (channel("train", CompressionType="Zip"), "compressionType"),
    (channel("train", RecordWrapperType="TFRecord"), "recordWrapperType"),
    (channel("train", InputMode="Stream"), "inputMode"),
])
def test_channel_member_constraints(bad_channel, where):
    message = error_of(request(InputDataConfig=[bad_channel]))
    assert where in message


def test_enum_message_lists_allowed_values():
    message = error_of(request(AlgorithmSpecification={"TrainingInputMode": "Stream",
                                                       "AlgorithmName": "image-classification"}))
    assert "Member must satisfy enum value set: [Pipe, File, FastFile]" in message


def test_duplicate_channel_names_are_refused():
    message = error_of(request(InputDataConfig=[channel("train"), channel("train", "s3://b/other/")]))
    assert "'train' appears more than once" in message


def test_hyperparameter_limits():
    assert "hyperParameters" in error_of(request(HyperParameters={f"k{i}": "1" for i in range(101)}))
    assert "less than or equal to 256" in error_of(request(HyperParameters={"k" * 257: "1"}))
    assert "less than or equal to 2500" in error_of(request(HyperParameters={"k": "v" * 2501}))
    with pytest.raises(RequestValidationError) as info:  # a number where the model has a string
        TrainingJobSpec.from_request(request(HyperParameters={"epochs": 5}))
    assert info.value.code == "SerializationException" and "cannot be read as a string" in info.value.message
    ok = TrainingJobSpec.from_request(request(HyperParameters={"k" * 256: "v" * 2500}))
    assert len(ok.hyperparameters) == 1


@pytest.mark.parametrize("resources, stopping, where", [
    ({"InstanceCount": 0}, {}, "resourceConfig.instanceCount"),
    ({"VolumeSizeInGB": 0}, {}, "resourceConfig.volumeSizeInGB"),
    ({"InstanceType": "p3.2xlarge"}, {}, "resourceConfig.instanceType"),
    ({}, {"MaxRuntimeInSeconds": 0}, "stoppingCondition.maxRuntimeInSeconds"),
    ({}, {"MaxRuntimeInSeconds": 2419201}, "stoppingCondition.maxRuntimeInSeconds"),
])
def test_resource_and_runtime_limits(resources, stopping, where):
    assert where in error_of(request(ResourceConfig=resources, StoppingCondition=stopping))


def test_runtime_limit_bounds_are_inclusive():
    spec = TrainingJobSpec.from_request(request(StoppingCondition={"MaxRuntimeInSeconds": 2419200}))
    assert spec.max_runtime_seconds == 2419200


def test_required_members():
    req = request()
    del req["RoleArn"]
    assert "Value null at 'roleArn' failed to satisfy constraint: Member must not be null" in error_of(req)
    req = request()
    del req["OutputDataConfig"]
    assert "outputDataConfig" in error_of(req)


def test_image_and_algorithm_name_are_exclusive():
    both = {"TrainingInputMode": "File", "AlgorithmName": "image-classification", "TrainingImage": "x:1"}
    assert "not both" in error_of(request(AlgorithmSpecification=both))


def test_environment_key_pattern():
    assert "environment" in error_of(request(Environment={"1BAD": "x"}))


def test_semantic_segmentation_is_single_machine():
    algo = {"TrainingInputMode": "File", "AlgorithmName": "semantic-segmentation"}
    message = error_of(request(AlgorithmSpecification=algo, ResourceConfig={"InstanceCount": 2}))
    assert "single machine" in message
    assert TrainingJobSpec.from_request(request(AlgorithmSpecification=algo)).instance_count == 1


@pytest.mark.parametrize("ch, words", [
    (channel("train", InputMode="File", CompressionType="Gzip"), "Gzip"),
    (channel("train", InputMode="File", RecordWrapperType="RecordIO"), "RecordIO"),
    (channel("train", s3={"S3DataType": "AugmentedManifestFile", "AttributeNames": ["source-ref"]}),
     "AugmentedManifestFile"),
    (channel("train", InputMode="Pipe", s3={"S3DataType": "AugmentedManifestFile"}), "AttributeNames must be set"),
    (channel("train", InputMode="FastFile", s3={"S3DataType": "ManifestFile"}), "FastFile"),
    (channel("train", s3={"AttributeNames": ["a"]}), "AttributeNames can only"),
    (channel("model", InputMode="Pipe"), "File input mode"),
])
def test_contradictory_channel_options_fail_at_submission(ch, words):
    message = error_of(request(InputDataConfig=[ch]))
    assert words in message and f"'{ch['ChannelName']}'" in message


def test_pipe_channel_keeps_its_options():
    ch = channel("train", InputMode="Pipe", CompressionType="Gzip", RecordWrapperType="RecordIO",
                 ShuffleConfig={"Seed": 7}, ContentType="application/x-recordio")
    spec = TrainingJobSpec.from_request(request(InputDataConfig=[ch]))
    train = spec.channel("train")
    assert (train.input_mode, train.compression, train.record_wrapper, train.shuffle_seed) == ("Pipe", "Gzip", "RecordIO", 7)
    assert train.config().to_json() == {
        "ContentType": "application/x-recordio", "TrainingInputMode": "Pipe",
        "S3DistributionType": "FullyReplicated", "RecordWrapperType": "RecordIO", "CompressionType": "Gzip"}


def test_algorithm_from_image_uri():
    assert algorithm_of(None, None, "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1") == \
        "image-classification"
    assert algorithm_of(None, None, "smlocal-object-detection:cpu") == "object-detection"
    assert algorithm_of("semantic-segmentation", None, "whatever:1") == "semantic-segmentation"
    assert algorithm_of(None, None, "my-byo-image:latest") is None


def test_default_job_name_looks_like_the_sdks():
    name = default_job_name("image-classification")
    assert re.fullmatch(r"image-classification-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}", name)
    assert re.fullmatch(JOB_NAME_PATTERN.lstrip("^"), default_job_name("x" * 80))
    assert training_job_arn("My-Job") == "arn:aws:sagemaker:us-east-1:123456789012:training-job/my-job"
