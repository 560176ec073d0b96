"""The image-classification notebook's tuning cells (SageMaker Python SDK v2), run by .venv-sdk.

Unchanged apart from the endpoint settings (environment), the bucket given to the Session and
sizes small enough for a CPU: tiny images, one epoch per job, a few jobs.

    python tuning.py BUCKET PREFIX NUM_CLASSES NUM_TRAINING_SAMPLES
Prints one JSON line at the end: the tuning jobs, their best jobs, the analytics table and the
best estimator's model.
"""
import json
import sys
import time

import sagemaker
from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.tuner import (ContinuousParameter, HyperparameterTuner, IntegerParameter, WarmStartConfig,
                             WarmStartTypes)

bucket, prefix, num_classes, num_training_samples = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
region = "us-east-1"
sess = sagemaker.Session(default_bucket=bucket)
role = "arn:aws:iam::123456789012:role/SageMakerRole"

training_image = image_uris.retrieve("image-classification", region)
s3_output_location = f"s3://{bucket}/{prefix}/output"
ic = Estimator(training_image, role, instance_count=1, instance_type="ml.p2.xlarge", volume_size=50,
               max_run=360000, input_mode="File", output_path=s3_output_location, sagemaker_session=sess)
ic.set_hyperparameters(num_layers=18, image_shape="3,28,28", num_classes=num_classes,
                       num_training_samples=num_training_samples, epochs=1, top_k=2, precision_dtype="float32")
train_data = TrainingInput(f"s3://{bucket}/{prefix}/train/", distribution="FullyReplicated",
                           content_type="application/x-recordio", s3_data_type="S3Prefix")
validation_data = TrainingInput(f"s3://{bucket}/{prefix}/validation/", distribution="FullyReplicated",
                                content_type="application/x-recordio", s3_data_type="S3Prefix")
data_channels = {"train": train_data, "validation": validation_data}

hyperparameter_ranges = {"learning_rate": ContinuousParameter(0.01, 0.1),
                         "mini_batch_size": IntegerParameter(8, 16)}
tuner = HyperparameterTuner(ic, "validation:accuracy", hyperparameter_ranges, max_jobs=2, max_parallel_jobs=1)
tuner.fit(inputs=data_channels, logs=True)
best = tuner.best_training_job()
best_model = tuner.best_estimator().model_data
table = tuner.analytics().dataframe()

# The SDK names tuning jobs <base>-<yymmdd-HHMM>, to the minute: on SageMaker a tuning job takes
# longer than that; here the next one waits for the next minute rather than reuse the name.
if tuner.latest_tuning_job.name.endswith(time.strftime("%y%m%d-%H%M", time.gmtime())):
    time.sleep(61 - time.time() % 60)
warm_tuner = HyperparameterTuner(ic, "validation:accuracy", hyperparameter_ranges, max_jobs=1, max_parallel_jobs=1,
                                 warm_start_config=WarmStartConfig(WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM,
                                                                   parents={tuner.latest_tuning_job.name}))
warm_tuner.fit(inputs=data_channels, logs=True)
warm = sess.sagemaker_client.describe_hyper_parameter_tuning_job(
    HyperParameterTuningJobName=warm_tuner.latest_tuning_job.name)
print(json.dumps({"tuning_job": tuner.latest_tuning_job.name, "best": best, "best_model": best_model,
                  "table": json.loads(table.to_json(orient="records")),
                  "warm_job": warm_tuner.latest_tuning_job.name, "warm_status": warm["HyperParameterTuningJobStatus"],
                  "warm_best": warm_tuner.best_training_job(),
                  "overall_best": warm["OverallBestTrainingJob"]["TrainingJobName"]}))
