"""Requests checked against botocore's model with the services' wording (emulator.validation)."""
from datetime import datetime, timezone

import pytest

from emulator.spec import TRAINING_RULES
from emulator.validation import RequestValidationError, operation_model, parse_input

CREATE = operation_model("sagemaker", "CreateTrainingJob").input_shape
LIST = operation_model("sagemaker", "ListTrainingJobs").input_shape


def request(**members):
    base = {"TrainingJobName": "job-1", "RoleArn": "arn:aws:iam::123456789012:role/R",
            "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
            "AlgorithmSpecification": {"TrainingImage": "img:1", "TrainingInputMode": "File"}}
    base.update(members)
    return base


def error(params, shape=CREATE, rules=TRAINING_RULES) -> RequestValidationError:
    with pytest.raises(RequestValidationError) as info:
        parse_input(params, shape, rules)
    return info.value


def test_a_valid_request_passes_and_unknown_members_are_dropped():
    parsed = parse_input(request(Unknown="x"), CREATE, TRAINING_RULES)
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


def test_rules_accept_local_instance_types_and_local_locations_only_where_documented():
    for location in ("file:///tmp/out", "/tmp/out"):
        parse_input(request(ResourceConfig={"InstanceType": "local", "InstanceCount": 1, "VolumeSizeInGB": 1},
                            OutputDataConfig={"S3OutputPath": location}), CREATE, TRAINING_RULES)
    # A relative path means nothing to a server; https:// passes the model but no storage reaches it.
    for location in ("tmp/out", "https://example.com/out"):
        message = error(request(OutputDataConfig={"S3OutputPath": location})).message
        assert f"Value '{location}' at 'outputDataConfig.s3OutputPath' failed to satisfy constraint" in message
    # Without the rules the real service's apply.
    assert "Member must satisfy enum value set" in error(
        request(ResourceConfig={"InstanceType": "local", "InstanceCount": 1, "VolumeSizeInGB": 1}), rules=()).message


def test_rules_add_the_bounds_the_service_enforces_and_report_them_with_the_models_errors():
    message = error(request(TrainingJobName="bad_name", ResourceConfig={"InstanceCount": 0, "VolumeSizeInGB": 0},
                            StoppingCondition={"MaxRuntimeInSeconds": 2419201})).message
    assert message.startswith("4 validation errors detected: ")
    assert "Value '0' at 'resourceConfig.instanceCount' failed to satisfy constraint: Member must have value " \
           "greater than or equal to 1" in message
    assert "at 'resourceConfig.volumeSizeInGB'" in message
    assert "Value '2419201' at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy constraint: Member must " \
           "have value less than or equal to 2419200" in message
    parse_input(request(ResourceConfig={"InstanceCount": 0}), CREATE, ())  # the model alone allows 0


def test_metric_regexes_need_a_capture_group():
    definitions = [{"Name": "a", "Regex": "loss=([0-9.]+)"}, {"Name": "b", "Regex": "loss=[0-9.]+"},
                   {"Name": "c", "Regex": "loss=([0-9.]+"}]
    message = error(request(AlgorithmSpecification={"TrainingImage": "img:1", "TrainingInputMode": "File",
                                                    "MetricDefinitions": definitions})).message
    assert message.startswith("2 validation errors detected: ")
    assert "at 'algorithmSpecification.metricDefinitions.2.member.regex'" in message
    assert "at 'algorithmSpecification.metricDefinitions.3.member.regex'" in message


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
