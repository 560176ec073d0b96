"""The SageMaker developer guide's incremental-training code (image classification), run by .venv-sdk.

Unchanged apart from the endpoint settings (environment: AWS_ENDPOINT_URL and
AWS_ENDPOINT_URL_S3), the bucket given to the Session (so the SDK never calls STS) and sizes
small enough for a CPU: tiny images, few epochs.

    python incremental_training.py BUCKET PREFIX NUM_CLASSES NUM_TRAINING_SAMPLES
Prints one JSON line at the end: the two jobs, their model artifacts and the first job's
validation:accuracy as TrainingJobAnalytics reads it from CloudWatch.
"""
import json
import sys

import sagemaker
from sagemaker import image_uris
from sagemaker.analytics import TrainingJobAnalytics
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput

bucket, prefix, num_classes, num_training_samples = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
region = "us-east-1"
sess = sagemaker.Session(default_bucket=bucket)
role = "arn:aws:iam::123456789012:role/SageMakerRole"

training_image = image_uris.retrieve("image-classification", region)
s3_output_location = f"s3://{bucket}/{prefix}/output"

ic = Estimator(training_image, role, instance_count=1, instance_type="ml.p2.xlarge", volume_size=50,
               max_run=360000, input_mode="File", output_path=s3_output_location, sagemaker_session=sess)
ic.set_hyperparameters(num_layers=18, image_shape="3,28,28", num_classes=num_classes,
                       num_training_samples=num_training_samples, mini_batch_size=16, epochs=2,
                       learning_rate=0.05, top_k=2, precision_dtype="float32")

train_data = TrainingInput(f"s3://{bucket}/{prefix}/train/", distribution="FullyReplicated",
                           content_type="application/x-recordio", s3_data_type="S3Prefix")
validation_data = TrainingInput(f"s3://{bucket}/{prefix}/validation/", distribution="FullyReplicated",
                                content_type="application/x-recordio", s3_data_type="S3Prefix")
data_channels = {"train": train_data, "validation": validation_data}

ic.fit(inputs=data_channels, logs=True)

# Incremental training: a new estimator whose "model" channel is the first job's model.tar.gz.
incr_ic = Estimator(training_image, role, instance_count=1, instance_type="ml.p2.xlarge", volume_size=50,
                    max_run=360000, input_mode="File", output_path=s3_output_location, sagemaker_session=sess,
                    model_uri=ic.model_data, model_channel_name="model")
incr_ic.set_hyperparameters(num_layers=18, image_shape="3,28,28", num_classes=num_classes,
                            num_training_samples=num_training_samples, mini_batch_size=16, epochs=1,
                            learning_rate=0.01, top_k=2, precision_dtype="float32")
incr_ic.fit(inputs=data_channels, logs=True)

first = ic.latest_training_job.name
# The semantic-segmentation notebook's way back to a finished job (reads every member it describes).
attached = Estimator.attach(incr_ic.latest_training_job.name, sagemaker_session=sess)
metrics = TrainingJobAnalytics(first, metric_names=["validation:accuracy"], sagemaker_session=sess).dataframe()
print(json.dumps({"first": first, "second": incr_ic.latest_training_job.name, "first_model": ic.model_data,
                  "second_model": incr_ic.model_data, "attached_model": attached.model_data,
                  "validation_accuracy": [float(v) for v in metrics["value"]] if len(metrics) else []}))
