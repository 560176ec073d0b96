"""The response checker the API tests rely on does flag responses that break botocore's model."""
from datetime import datetime, timezone

from emulator.validation import operation_model
from tests.api_model import problems

DESCRIBE = operation_model("sagemaker", "DescribeTrainingJob").output_shape
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
VALID = {"TrainingJobName": "j", "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/j",
         "ModelArtifacts": {"S3ModelArtifacts": "s3://b/o/j/output/model.tar.gz"}, "TrainingJobStatus": "Completed",
         "SecondaryStatus": "Completed", "StoppingCondition": {"MaxRuntimeInSeconds": 60}, "CreationTime": NOW}


def test_a_valid_description_has_no_problems():
    assert problems(VALID, DESCRIBE) == []


def test_missing_unknown_mistyped_and_out_of_enum_members_are_reported():
    broken = {k: v for k, v in VALID.items() if k != "ModelArtifacts"}
    broken.update(TrainingJobStatus="Done", Emulator={}, CreationTime="yesterday",
                  SecondaryStatusTransitions=[{"Status": "Starting"}])
    found = problems(broken, DESCRIBE)
    assert ".ModelArtifacts: required member missing" in found
    assert ".Emulator: not a member of DescribeTrainingJobResponse" in found
    assert ".TrainingJobStatus: 'Done' not in enum TrainingJobStatus" in found
    assert ".CreationTime: str where the model has timestamp" in found
    assert ".SecondaryStatusTransitions[0].StartTime: required member missing" in found


def test_patterns_apply_except_for_documented_file_locations():
    bad_arn = dict(VALID, TrainingJobArn="not-an-arn")
    assert any("TrainingJobArn" in p for p in problems(bad_arn, DESCRIBE))
    local = dict(VALID, ModelArtifacts={"S3ModelArtifacts": "file:///tmp/o/j/output/model.tar.gz"})
    assert problems(local, DESCRIBE) == []
