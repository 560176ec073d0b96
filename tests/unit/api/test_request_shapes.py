"""Requests checked against botocore's model with the services' wording (emulator.api.shapes)."""
from datetime import datetime, timezone

import pytest

from emulator.api.errors import ApiError
from emulator.api.sagemaker_ops import RELAXATIONS
from emulator.api.shapes import operation_model, parse_input

CREATE = operation_model("sagemaker", "CreateTrainingJob").input_shape
LIST = operation_model("sagemaker", "ListTrainingJobs").input_shape


def request(**members):
    base = {"TrainingJobName": "job-1", "RoleArn": "arn:aws:iam::123456789012:role/R",
            "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
            "AlgorithmSpecification": {"TrainingImage": "img:1", "TrainingInputMode": "File"}}
    base.update(members)
    return base


def error(params, shape=CREATE, relaxations=RELAXATIONS) -> ApiError:
    with pytest.raises(ApiError) as info:
        parse_input(params, shape, relaxations)
    return info.value


def test_a_valid_request_passes_and_unknown_members_are_dropped():
    parsed = parse_input(request(Unknown="x"), CREATE, RELAXATIONS)
    assert parsed["TrainingJobName"] == "job-1" and "Unknown" not in parsed


def test_missing_required_members_are_listed_together():
    err = error({"TrainingJobName": "job-1"})
    assert err.code == "ValidationException"
    assert err.message == ("2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint: "
                           "Member must not be null; Value null at 'outputDataConfig' failed to satisfy constraint: "
                           "Member must not be null")


def test_nested_list_members_are_named_by_position():
    channels = [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/t"}}},
                {"ChannelName": "bad name", "DataSource": {"S3DataSource": {"S3DataType": "Folder", "S3Uri": "s3://b/v"}}}]
    message = error(request(InputDataConfig=channels)).message
    assert message.startswith("2 validation errors detected: ")
    assert ("Value 'bad name' at 'inputDataConfig.2.member.channelName' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: ^[A-Za-z0-9\\.\\-_]+") in message
    assert ("Value 'Folder' at 'inputDataConfig.2.member.dataSource.s3DataSource.s3DataType' failed to satisfy "
            "constraint: Member must satisfy enum value set: [ManifestFile, S3Prefix, AugmentedManifestFile, "
            "Converse]") in message


def test_map_keys_and_values_and_number_ranges():
    message = error(request(HyperParameters={"k" * 257: "v"}, Environment={"1BAD": "x"},
                            StoppingCondition={"MaxRuntimeInSeconds": 0})).message
    assert ("at 'hyperParameters' failed to satisfy constraint: Map keys must satisfy constraint: "
            "[Member must have length less than or equal to 256]") in message
    assert "at 'environment' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy " \
           "regular expression pattern: ^[a-zA-Z_][a-zA-Z0-9_]*]" in message
    assert "Value '0' at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy constraint: Member must have " \
           "value greater than or equal to 1" in message


def test_wrong_json_types_are_serialization_errors():
    err = error(request(ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": "1", "VolumeSizeInGB": 1}))
    assert err.code == "SerializationException"
    assert "resourceConfig.instanceCount" in err.message and "integer" in err.message


def test_relaxations_accept_local_instance_types_and_file_uris_only_where_documented():
    parse_input(request(ResourceConfig={"InstanceType": "local", "InstanceCount": 1, "VolumeSizeInGB": 1},
                        OutputDataConfig={"S3OutputPath": "file:///tmp/out"}), CREATE, RELAXATIONS)
    assert "at 'outputDataConfig.s3OutputPath'" in error(request(OutputDataConfig={"S3OutputPath": "/tmp/out"})).message
    # Without the relaxations the real service's rules apply.
    assert "Member must satisfy enum value set" in error(
        request(ResourceConfig={"InstanceType": "local", "InstanceCount": 1, "VolumeSizeInGB": 1}), relaxations=()).message


def test_timestamps_from_epoch_seconds_or_iso_text():
    parsed = parse_input({"CreationTimeAfter": 1700000000, "CreationTimeBefore": "2023-11-14T22:13:20Z"}, LIST)
    expected = datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert parsed["CreationTimeAfter"] == expected and parsed["CreationTimeBefore"] == expected
    assert error({"CreationTimeAfter": "yesterday"}, LIST).code == "SerializationException"


def test_java_unicode_classes_in_tag_patterns_are_understood():
    shape = operation_model("sagemaker", "AddTags").input_shape
    parse_input({"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/j",
                 "Tags": [{"Key": "équipe vision", "Value": "ok_1/2"}]}, shape)
    message = error({"ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/j",
                     "Tags": [{"Key": "bad*key", "Value": "v"}]}, shape).message
    assert "at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern" in message
