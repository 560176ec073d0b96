"""SDK v3's training workflow for a built-in algorithm, run by .venv-sdk3 against `smlocal api`.

What a new user writes with sagemaker 3.x (sagemaker.train.ModelTrainer), with only the
endpoint settings in the environment (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3) and role
validation on (SDK v3 checks the role through IAM before every job): train with the train and
validation channels, then a second ModelTrainer whose `model` channel is the first job's
model.tar.gz (incremental training); both print their CloudWatch lines while they wait.

    python v3_training.py BUCKET PREFIX NUM_CLASSES NUM_TRAINING_SAMPLES
Prints one JSON line at the end.
"""
import json
import logging
import sys

from sagemaker.core import image_uris
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, InputData, OutputDataConfig, StoppingCondition

# v3 logs through the standard logging module and leaves configuring it to the application, as a
# notebook does; TrainingJob.wait(logs=True) prints each CloudWatch line as `<stream>:\n<message>`.
logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s: %(message)s")
# The role check's verdict ("Role '...' validated for training") is a debug line.
logging.getLogger("sagemaker.core.helper.iam_role_resolver").setLevel(logging.DEBUG)

bucket, prefix, num_classes, num_training_samples = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
region = "us-east-1"
role = "arn:aws:iam::123456789012:role/SageMakerRole"
image = image_uris.retrieve("image-classification", region)
output = OutputDataConfig(s3_output_path=f"s3://{bucket}/{prefix}/output")
hyperparameters = {"num_layers": 18, "image_shape": "3,28,28", "num_classes": num_classes,
                   "num_training_samples": num_training_samples, "mini_batch_size": 16, "epochs": 1,
                   "learning_rate": 0.05, "top_k": 2}
channels = [InputData(channel_name="train", data_source=f"s3://{bucket}/{prefix}/train/",
                      content_type="application/x-recordio"),
            InputData(channel_name="validation", data_source=f"s3://{bucket}/{prefix}/validation/",
                      content_type="application/x-recordio")]


def trainer(**extra) -> ModelTrainer:
    return ModelTrainer(training_image=image, role=role, base_job_name="ic-v3",
                        compute=Compute(instance_type="ml.m5.xlarge", instance_count=1, volume_size_in_gb=10),
                        stopping_condition=StoppingCondition(max_runtime_in_seconds=3600),
                        output_data_config=output, hyperparameters=hyperparameters, **extra)


first = trainer()
first.train(input_data_config=channels, wait=True, logs=True)
first_job = first._latest_training_job
first_model = first_job.model_artifacts.s3_model_artifacts

# Incremental training: the first job's model.tar.gz as the `model` channel.
second = trainer()
second.train(input_data_config=[*channels, InputData(channel_name="model", data_source=first_model,
                                                        content_type="application/x-sagemaker-model")],
             wait=True, logs=True)
second_job = second._latest_training_job
print()  # the SDK's transient progress panel (rich) leaves its last line open
print(json.dumps({
    "first": first_job.training_job_name, "second": second_job.training_job_name,
    "first_model": first_model, "second_model": second_job.model_artifacts.s3_model_artifacts,
    "statuses": [first_job.training_job_status, second_job.training_job_status],
    "second_channels": {c.channel_name: c.content_type for c in second_job.input_data_config},
}))
