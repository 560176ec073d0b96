"""introduction_to_amazon_algorithms/imageclassification_caltech/Image-classification-incremental-training-highlevel.ipynb,
cell by cell (SDK v2); `# [n]` is the notebook's cell index.

Changed, and nothing else: the role (a role ARN, not get_execution_role()), the data (the test's
tiny Caltech-256 stand-in in the current folder instead of the download), the sizes that follow
from it (image_shape, num_classes, num_training_samples, mini_batch_size at most the 64 images,
the category list), `aws s3 cp` as boto3 uploads of the same keys, `/tmp/...` paths made relative.

    python ic_incremental.py NUM_CLASSES NUM_TRAINING_SAMPLES
"""
import json
import os
import sys

NUM_CLASSES, NUM_TRAINING_SAMPLES = int(sys.argv[1]), int(sys.argv[2])
results = {}

# [6]
import sagemaker

role = os.environ["ROLE"]  # get_execution_role()
print(role)

sess = sagemaker.Session()
bucket = sess.default_bucket()
prefix = "ic-fulltraining"

# [7]
from sagemaker import image_uris

training_image = image_uris.retrieve(region=sess.boto_region_name, framework="image-classification")

# [9] (the two download_file calls are the test's files)
import boto3

s3_client = boto3.client("s3")


def upload_to_s3(channel, file):
    s3 = boto3.resource("s3")
    data = open(file, "rb")
    key = channel + "/" + file
    s3.Bucket(bucket).put_object(Key=key, Body=data)


# [10]
s3train = "s3://{}/{}/train/".format(bucket, prefix)
s3validation = "s3://{}/{}/validation/".format(bucket, prefix)

# [11] !aws s3 cp caltech-256-60-train.rec $s3train --quiet (and the validation file)
s3_client.upload_file("caltech-256-60-train.rec", bucket, f"{prefix}/train/caltech-256-60-train.rec")
s3_client.upload_file("caltech-256-60-val.rec", bucket, f"{prefix}/validation/caltech-256-60-val.rec")

# [14]
deploy_amt_model = True

# [16]
s3_output_location = "s3://{}/{}/output".format(bucket, prefix)

ic = sagemaker.estimator.Estimator(
    training_image,
    role,
    instance_count=1,
    instance_type="ml.p3.2xlarge",
    volume_size=50,
    max_run=360000,
    input_mode="File",
    output_path=s3_output_location,
    sagemaker_session=sess,
)

# [18]
ic.set_hyperparameters(
    num_layers=18,
    image_shape="3,32,32",  # 3,224,224
    num_classes=NUM_CLASSES,  # 257
    num_training_samples=NUM_TRAINING_SAMPLES,  # 15420
    mini_batch_size=64,  # 256
    epochs=2,
    learning_rate=0.1,
    top_k=2,
)

# [20]
train_data = sagemaker.inputs.TrainingInput(
    s3train,
    distribution="FullyReplicated",
    content_type="application/x-recordio",
    s3_data_type="S3Prefix",
)
validation_data = sagemaker.inputs.TrainingInput(
    s3validation,
    distribution="FullyReplicated",
    content_type="application/x-recordio",
    s3_data_type="S3Prefix",
)

data_channels = {"train": train_data, "validation": validation_data}

# [22]
ic.fit(inputs=data_channels, logs=True)
results["first_job"] = ic.latest_training_job.name

# [24]
import time
from sagemaker.tuner import IntegerParameter, ContinuousParameter
from sagemaker.tuner import HyperparameterTuner

job_name = "DEMO-ic-mul-" + time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
print("Tuning job name: ", job_name)

hyperparameter_ranges = {
    "beta_1": ContinuousParameter(1e-6, 0.999, scaling_type="Auto"),
    "beta_2": ContinuousParameter(1e-6, 0.999, scaling_type="Auto"),
    "eps": ContinuousParameter(1e-8, 1.0, scaling_type="Auto"),
    "gamma": ContinuousParameter(1e-8, 0.999, scaling_type="Auto"),
    "learning_rate": ContinuousParameter(1e-6, 0.5, scaling_type="Auto"),
    "mini_batch_size": IntegerParameter(8, 64, scaling_type="Auto"),
    "momentum": ContinuousParameter(0.0, 0.999, scaling_type="Auto"),
    "weight_decay": ContinuousParameter(0.0, 0.999, scaling_type="Auto"),
}

max_jobs = 6
max_parallel_jobs = 2

hp_tuner = HyperparameterTuner(
    ic,
    "validation:accuracy",
    hyperparameter_ranges,
    max_jobs=max_jobs,
    max_parallel_jobs=max_parallel_jobs,
    objective_type="Maximize",
)

hp_tuner.fit(inputs=data_channels, job_name=job_name)
results["tuning_job"] = job_name

# [26]
model_data = (hp_tuner.best_estimator() if deploy_amt_model else ic).model_data
print(ic.model_data)

model_data_channel = sagemaker.inputs.TrainingInput(
    model_data,
    distribution="FullyReplicated",
    s3_data_type="S3Prefix",
    content_type="application/x-sagemaker-model",
)

data_channels = {"train": train_data, "validation": validation_data, "model": model_data_channel}
results["base_model"] = model_data

# [28]
incr_ic = sagemaker.estimator.Estimator(
    training_image,
    role,
    instance_count=1,
    instance_type="ml.p3.2xlarge",
    volume_size=50,
    max_run=360000,
    input_mode="File",
    output_path=s3_output_location,
    sagemaker_session=sess,
)
incr_ic.set_hyperparameters(
    num_layers=18,
    image_shape="3,32,32",  # 3,224,224
    num_classes=NUM_CLASSES,  # 257
    num_training_samples=NUM_TRAINING_SAMPLES,  # 15420
    mini_batch_size=64,  # 128
    epochs=2,
    learning_rate=0.01,
    top_k=2,
)

incr_ic.fit(inputs=data_channels, logs=True)
results["incremental_job"] = incr_ic.latest_training_job.name

# [31]
ic_classifier = incr_ic.deploy(initial_instance_count=1, instance_type="ml.m4.xlarge")

# [33] the test image is the test's file; IPython's Image() display left out
file_name = "test.jpg"  # /tmp/test.jpg

# [35]
import json
import numpy as np
from sagemaker.serializers import IdentitySerializer

with open(file_name, "rb") as f:
    payload = f.read()

ic_classifier.serializer = IdentitySerializer("image/jpeg")
result = json.loads(ic_classifier.predict(payload))
index = np.argmax(result)
object_categories = ["ak47", "american-flag", "backpack", "baseball-bat"][:NUM_CLASSES]  # 257 names
print("Result: label - " + object_categories[index] + ", probability - " + str(result[index]))
results["prediction"], results["endpoint"] = result, ic_classifier.endpoint_name

# [37]
ic_classifier.delete_endpoint()

print("NOTEBOOK-RESULT " + json.dumps(results))
