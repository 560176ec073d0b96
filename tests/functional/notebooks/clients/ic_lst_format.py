"""introduction_to_amazon_algorithms/imageclassification_caltech/Image-classification-lst-format-highlevel.ipynb,
cell by cell (SDK v2); `# [n]` is the notebook's cell index.

Changed, and nothing else: the role (a role ARN, not get_execution_role()), the data (the test's
tiny Caltech-256 stand-in: class folders of images and the two .lst files im2rec.py --list
writes, in the current folder), the sizes that follow from it (image_shape, resize, num_classes,
num_training_samples, mini_batch_size at most the 64 images, the category list), `aws s3 cp
--recursive` as boto3 uploads of the same keys, `/tmp/...` paths made relative. The four channels
keep the notebook's `content_type="application/jpeg"`; `use_pretrained_model=1` reads the
server's model store.

    python ic_lst_format.py NUM_CLASSES NUM_TRAINING_SAMPLES
"""
import json
import os
import subprocess
import sys

NUM_CLASSES, NUM_TRAINING_SAMPLES = int(sys.argv[1]), int(sys.argv[2])
results = {}

# [6]
import sagemaker

role = os.environ["ROLE"]  # get_execution_role()
print(role)

sess = sagemaker.Session()
bucket = sess.default_bucket()
prefix = "ic-lstformat"

# [7]
from sagemaker import image_uris

training_image = image_uris.retrieve(region=sess.boto_region_name, framework="image-classification")
print(training_image)

# [9], [10] (download, tar, im2rec.py --list) are the test's files
# [12]
subprocess.run("head -n 3 ./caltech-256-60-train.lst > example.lst", shell=True, check=True)
f = open("example.lst", "r")
lst_content = f.read()
print(lst_content)
results["example_lst"] = lst_content

# [14]
s3train = "s3://{}/{}/train/".format(bucket, prefix)
s3validation = "s3://{}/{}/validation/".format(bucket, prefix)
s3train_lst = "s3://{}/{}/train_lst/".format(bucket, prefix)
s3validation_lst = "s3://{}/{}/validation_lst/".format(bucket, prefix)

import boto3

s3 = boto3.client("s3")


def aws_s3_cp_recursive(folder, key_prefix):  # what `aws s3 cp FOLDER s3://... --recursive` uploads
    for root, _, names in os.walk(folder):
        for name in sorted(names):
            path = os.path.join(root, name)
            s3.upload_file(path, bucket, key_prefix + os.path.relpath(path, folder))


aws_s3_cp_recursive("caltech_256_train_60", f"{prefix}/train/")
aws_s3_cp_recursive("256_ObjectCategories", f"{prefix}/validation/")
s3.upload_file("caltech-256-60-train.lst", bucket, f"{prefix}/train_lst/caltech-256-60-train.lst")
s3.upload_file("caltech-256-60-val.lst", bucket, f"{prefix}/validation_lst/caltech-256-60-val.lst")

# [16] (im2rec.py packs RecordIO files the rest of the notebook does not use)
# [20]
deploy_amt_model = True

# [22]
s3_output_location = "s3://{}/{}/output".format(bucket, prefix)

ic = sagemaker.estimator.Estimator(
    training_image,
    role,
    instance_count=1,
    instance_type="ml.p2.xlarge",
    volume_size=50,
    max_run=360000,
    input_mode="File",
    output_path=s3_output_location,
    sagemaker_session=sess,
    num_classes=NUM_CLASSES,  # 257
)

# [24]
ic.set_hyperparameters(
    num_layers=18,
    use_pretrained_model=1,
    image_shape="3,32,32",  # 3,224,224
    num_classes=NUM_CLASSES,  # 257
    mini_batch_size=64,  # 128
    epochs=2,
    learning_rate=0.01,
    top_k=2,
    num_training_samples=NUM_TRAINING_SAMPLES,  # 15420
    resize=36,  # 256
    precision_dtype="float32",
)

# [26]
train_data = sagemaker.inputs.TrainingInput(
    s3train,
    distribution="FullyReplicated",
    content_type="application/jpeg",
    s3_data_type="S3Prefix",
)
validation_data = sagemaker.inputs.TrainingInput(
    s3validation,
    distribution="FullyReplicated",
    content_type="application/jpeg",
    s3_data_type="S3Prefix",
)
train_data_lst = sagemaker.inputs.TrainingInput(
    s3train_lst,
    distribution="FullyReplicated",
    content_type="application/jpeg",
    s3_data_type="S3Prefix",
)
validation_data_lst = sagemaker.inputs.TrainingInput(
    s3validation_lst,
    distribution="FullyReplicated",
    content_type="application/jpeg",
    s3_data_type="S3Prefix",
)

data_channels = {
    "train": train_data,
    "validation": validation_data,
    "train_lst": train_data_lst,
    "validation_lst": validation_data_lst,
}

# [28]
ic.fit(inputs=data_channels, logs=True)
results["first_job"] = ic.latest_training_job.name

# [30]
import time
from sagemaker.tuner import IntegerParameter, ContinuousParameter
from sagemaker.tuner import HyperparameterTuner

job_name = "DEMO-ic-lst-" + time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
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

# [32]
ic_classifier = (hp_tuner if deploy_amt_model else ic).deploy(
    initial_instance_count=1, instance_type="ml.m4.xlarge"
)

# [34] the test image is the test's file; IPython's Image() display left out
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
