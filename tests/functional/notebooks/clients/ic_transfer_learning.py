"""introduction_to_amazon_algorithms/imageclassification_caltech/Image-classification-transfer-learning-highlevel.ipynb,
cell by cell (SDK v2); `# [n]` is the notebook's cell index.

Changed, and nothing else: the role (a role ARN, not get_execution_role()), the data (the test's
tiny Caltech-256 RecordIO stand-in in the current folder instead of the download from the
examples bucket), the sizes that follow from it (image_shape, num_classes, num_training_samples,
mini_batch_size at most the 64 images, the category list), `/tmp/...` paths made relative.
`use_pretrained_model=1` reads the server's model store.

    python ic_transfer_learning.py NUM_CLASSES NUM_TRAINING_SAMPLES
"""
import json
import os
import sys

NUM_CLASSES, NUM_TRAINING_SAMPLES = int(sys.argv[1]), int(sys.argv[2])
results = {}

# [6] (the two download_file calls from the examples bucket are the test's files)
import boto3
import sagemaker

role = os.environ["ROLE"]  # get_execution_role()
print(role)

region = boto3.Session().region_name

s3_client = boto3.client("s3")

sess = sagemaker.Session()

output_bucket = sess.default_bucket()
output_prefix = "ic-transfer-learning"

s3_client.upload_file(
    "caltech-256-60-train.rec", output_bucket, output_prefix + "/train_rec/caltech-256-60-train.rec"
)
s3_client.upload_file(
    "caltech-256-60-train.rec",
    output_bucket,
    output_prefix + "/validation_rec/caltech-256-60-train.rec",
)

# [7]
from sagemaker import image_uris

training_image = image_uris.retrieve(region=sess.boto_region_name, framework="image-classification")
print(training_image)

# [9]
s3train = f"s3://{output_bucket}/{output_prefix}/train_rec/"
s3validation = f"s3://{output_bucket}/{output_prefix}/validation_rec/"

# [12]
deploy_amt_model = True

# [14]
s3_output_location = f"s3://{output_bucket}/{output_prefix}/output"

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

# [16]
ic.set_hyperparameters(
    num_layers=18,
    use_pretrained_model=1,
    image_shape="3,32,32",  # 3,224,224
    num_classes=NUM_CLASSES,  # 257
    num_training_samples=NUM_TRAINING_SAMPLES,  # 15420
    mini_batch_size=64,  # 128
    epochs=2,
    learning_rate=0.01,
    precision_dtype="float32",
)

# [18]
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

# [20]
ic.fit(inputs=data_channels, logs=True)
results["first_job"] = ic.latest_training_job.name

# [22]
import time
from sagemaker.tuner import IntegerParameter, ContinuousParameter
from sagemaker.tuner import HyperparameterTuner

job_name = "DEMO-ic-tl-" + time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
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

# [24]
ic_classifier = (hp_tuner if deploy_amt_model else ic).deploy(
    initial_instance_count=1, instance_type="ml.m4.xlarge"
)

# [26]
object_categories = ["ak47", "american-flag", "backpack", "baseball-bat"][:NUM_CLASSES]  # 257 names

# [28] the test image is the test's file; IPython's Image() display left out
file_name = "test.jpg"  # /tmp/test.jpg

# [30]
import json
import numpy as np

with open(file_name, "rb") as f:
    payload = f.read()
    payload = bytearray(payload)

prediction = ic_classifier.predict(payload, initial_args={"ContentType": "application/x-image"})

probabilities = json.loads(prediction)

predicted_category_index = np.argmax(probabilities)
predicted_category_name = object_categories[predicted_category_index]
confidence = probabilities[predicted_category_index]

print(f"Result: label -  {predicted_category_name}, probability - {confidence}")
results["prediction"], results["endpoint"] = probabilities, ic_classifier.endpoint_name

# [32]
ic_classifier.delete_endpoint()

print("NOTEBOOK-RESULT " + json.dumps(results))
