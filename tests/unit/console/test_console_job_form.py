"""The Create training job form: the CreateTrainingJob request it builds, the form a job pre-fills
(Clone, incremental training), and where the API's refusals go on it."""
from werkzeug.datastructures import MultiDict

from emulator.console.job_form import ChannelForm, JobForm, field_errors
from emulator.spec import TrainingJobSpec
from emulator.validation import RequestValidationError


def submitted(**fields) -> MultiDict:
    base = {"job_name": "ic-1", "role_arn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "algorithm": "image-classification", "input_mode": "File", "instance_type": "ml.m4.xlarge",
            "instance_count": "1", "volume_size": "5", "max_runtime": "600",
            "hp.num_classes": "4", "hp.epochs": " 2 ", "hp.optimizer": "",
            "channel-0-name": "train", "channel-0-input_mode": "", "channel-0-distribution": "FullyReplicated",
            "channel-0-compression": "None", "channel-0-content_type": "application/x-recordio",
            "channel-0-record_wrapper": "None", "channel-0-s3_data_type": "S3Prefix",
            "channel-0-s3_uri": "s3://bucket/train/",
            "channel-1-name": "validation", "channel-1-input_mode": "Pipe", "channel-1-distribution": "ShardedByS3Key",
            "channel-1-compression": "Gzip", "channel-1-content_type": "", "channel-1-record_wrapper": "RecordIO",
            "channel-1-s3_data_type": "S3Prefix", "channel-1-s3_uri": "s3://bucket/validation/",
            "output_path": "s3://bucket/output", "kms_key": "",
            "tag-0-key": "project", "tag-0-value": "console"}
    base.update(fields)
    return MultiDict(base)


def test_the_form_builds_the_create_training_job_request_a_client_would_send():
    request = JobForm.from_form(submitted()).request("eu-west-1")
    assert request["AlgorithmSpecification"] == {
        "TrainingImage": "811284229777.dkr.ecr.eu-west-1.amazonaws.com/image-classification:1",
        "TrainingInputMode": "File"}
    # Only the values the user set (trimmed); an empty one means the algorithm's default.
    assert request["HyperParameters"] == {"num_classes": "4", "epochs": "2"}
    assert request["ResourceConfig"] == {"InstanceType": "ml.m4.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5}
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    train, validation = request["InputDataConfig"]
    assert "InputMode" not in train and train["ContentType"] == "application/x-recordio"
    assert validation == {"ChannelName": "validation", "InputMode": "Pipe", "CompressionType": "Gzip",
                          "RecordWrapperType": "RecordIO", "DataSource": {"S3DataSource": {
                              "S3DataType": "S3Prefix", "S3Uri": "s3://bucket/validation/",
                              "S3DataDistributionType": "ShardedByS3Key"}}}
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://bucket/output"}
    assert request["Tags"] == [{"Key": "project", "Value": "console"}]
    TrainingJobSpec.from_request({k: v for k, v in request.items() if k != "Tags"})  # the API accepts it


def test_your_own_container_is_its_image_uri_and_its_hyperparameters_are_free_pairs():
    form = JobForm.from_form(submitted(algorithm="custom", image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1",
                                       **{"hpx-0-key": "depth", "hpx-0-value": "3"}))
    request = form.request("us-east-1")
    assert request["AlgorithmSpecification"]["TrainingImage"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"
    assert request["HyperParameters"] == {"depth": "3"}  # the built-in's table is not read for another image


def test_empty_number_fields_are_left_out_so_the_api_names_the_missing_member():
    request = JobForm.from_form(submitted(instance_count="", max_runtime="")).request("us-east-1")
    assert "InstanceCount" not in request["ResourceConfig"] and request["StoppingCondition"] == {}


def description(**extra) -> dict:
    return {"TrainingJobName": "first", "RoleArn": "arn:aws:iam::123456789012:role/R",
            "AlgorithmSpecification": {"TrainingImage": "811284229777.dkr.ecr.us-east-1.amazonaws.com/"
                                                        "image-classification:1", "TrainingInputMode": "File"},
            "HyperParameters": {"epochs": "2", "num_classes": "4", "_tuning_objective_metric": "x"},
            "InputDataConfig": [{"ChannelName": "train", "ContentType": "application/x-recordio",
                                 "CompressionType": "None", "RecordWrapperType": "None",
                                 "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/train",
                                                                 "S3DataDistributionType": "FullyReplicated"}}},
                                {"ChannelName": "model", "DataSource": {"S3DataSource": {
                                    "S3DataType": "S3Prefix", "S3Uri": "s3://b/older/model.tar.gz"}}}],
            "OutputDataConfig": {"S3OutputPath": "s3://b/out", "KmsKeyId": ""},
            "ResourceConfig": {"InstanceType": "ml.p2.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "ModelArtifacts": {"S3ModelArtifacts": "s3://b/out/first/output/model.tar.gz"}, **extra}


def test_incremental_training_prefills_the_job_with_a_model_channel_holding_its_artifact():
    form = JobForm.from_job(description(), [{"Key": "team", "Value": "cv"}], incremental=True)
    assert form.job_name == "first-incremental"
    assert form.algorithm == "image-classification" and form.instance_type == "ml.p2.xlarge"
    assert form.hyperparameters == {"epochs": "2", "num_classes": "4"}
    assert form.extra_hyperparameters == [("_tuning_objective_metric", "x")]
    # The job's own model channel (an older model) is replaced by the job's artifact.
    assert [c.name for c in form.channels] == ["train", "model"]
    assert form.channels[-1] == ChannelForm("model", "File", "FullyReplicated", "None", "", "None", "S3Prefix",
                                            "s3://b/out/first/output/model.tar.gz")
    assert form.tags == [("team", "cv")]
    request = form.request("us-east-1")
    assert request["InputDataConfig"][-1]["DataSource"]["S3DataSource"]["S3Uri"].endswith("first/output/model.tar.gz")


def test_clone_keeps_the_channels_and_a_name_that_fits_63_characters():
    form = JobForm.from_job(description(TrainingJobName="a" * 63), [])
    assert len(form.job_name) == 63 and form.job_name.endswith("-copy")
    assert [c.name for c in form.channels] == ["train", "model"]


def refusal(request: dict) -> str:
    try:
        TrainingJobSpec.from_request(request)
    except RequestValidationError as exc:
        return exc.message
    raise AssertionError("accepted")


def test_each_violation_of_the_model_goes_next_to_its_field_in_the_apis_words():
    form = JobForm.from_form(submitted(job_name="bad_name", **{"channel-1-s3_uri": "ftp://x"}))
    message = refusal(form.request("us-east-1") | {"Tags": None})
    errors = field_errors(message, form)
    assert errors["job_name"].startswith("Value 'bad_name' at 'trainingJobName' failed to satisfy constraint: "
                                         "Member must satisfy regular expression pattern")
    assert errors["channel-1-s3_uri"].startswith("Value 'ftp://x' at 'inputDataConfig.2.member.dataSource."
                                                 "s3DataSource.s3Uri' failed to satisfy constraint")
    assert "" not in errors and "; Value" not in errors["job_name"]


def test_the_emulators_own_checks_go_to_the_channel_or_member_they_name():
    form = JobForm.from_form(submitted(**{"channel-1-name": "train"}))
    message = refusal(form.request("us-east-1") | {"Tags": None})
    assert field_errors(message, form) == {"channel-0-name": message}
    form = JobForm.from_form(submitted(**{"channel-1-input_mode": "File"}))  # Gzip in File mode
    message = refusal(form.request("us-east-1") | {"Tags": None})
    assert list(field_errors(message, form)) == ["channel-1-compression"]
    in_use = ("Training job names must be unique within an AWS account and region, and a training job with this "
              "name already exists (arn:aws:sagemaker:us-east-1:123456789012:training-job/ic-1)")
    assert field_errors(in_use, form) == {"job_name": in_use}
    assert field_errors("Something else entirely.", form) == {"": "Something else entirely."}


def test_add_and_remove_buttons_change_the_form_without_scripts():
    form = JobForm.from_form(submitted())
    assert [c.name for c in form.changed("add_channel").channels] == ["train", "validation", ""]
    assert [c.name for c in form.changed("remove_channel:0").channels] == ["validation"]
    assert form.changed("add_tag").tags == [("project", "console"), ("", "")]
    assert form.changed("remove_tag:0").tags == []


def test_an_image_refusal_goes_to_the_field_the_user_chose_it_with():
    message = "The image of this job cannot run with the process runner (TrainingImage ...)."
    assert list(field_errors(message, JobForm.from_form(submitted()))) == ["algorithm"]
    assert list(field_errors(message, JobForm.from_form(submitted(algorithm="custom")))) == ["image_uri"]
