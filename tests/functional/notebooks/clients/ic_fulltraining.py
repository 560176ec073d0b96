"""introduction_to_amazon_algorithms/imageclassification_caltech/Image-classification-fulltraining.ipynb
(the boto3 version), cell by cell; `# [n]` is the notebook's cell index.

Changed, and nothing else: the role (a role ARN, not get_execution_role()), the data (the test
wrote a tiny Caltech-256 stand-in into the current folder instead of the download), the sizes
that follow from it (image_shape, num_training_samples, num_classes, the category list), and
`/tmp/...` paths made relative. The endpoint settings come from the environment.

    python ic_fulltraining.py NUM_CLASSES NUM_TRAINING_SAMPLES
"""
import json
import os
import sys

NUM_CLASSES, NUM_TRAINING_SAMPLES = sys.argv[1], sys.argv[2]
results = {}

# [6]
import boto3
import re
import sagemaker
from sagemaker import image_uris

region = sagemaker.Session().boto_region_name

role = os.environ["ROLE"]  # get_execution_role()

bucket = sagemaker.Session().default_bucket()

training_image = image_uris.retrieve(
    region=boto3.Session().region_name, framework="image-classification"
)

# [8] (the two download_file calls from sagemaker-example-files-prod-<region> are the test's files)
s3_client = boto3.client("s3")


def upload_to_s3(channel, file):
    s3 = boto3.resource("s3")
    data = open(file, "rb")
    key = channel + "/" + file
    s3.Bucket(bucket).put_object(Key=key, Body=data)


s3_train_key = "image-classification-full-training/train"
s3_validation_key = "image-classification-full-training/validation"
s3_train = "s3://{}/{}/".format(bucket, s3_train_key)
s3_validation = "s3://{}/{}/".format(bucket, s3_validation_key)
upload_to_s3(s3_train_key, "caltech-256-60-train.rec")
upload_to_s3(s3_validation_key, "caltech-256-60-val.rec")

# [10]
deploy_amt_model = True

# [13]
num_layers = "18"
image_shape = "3,32,32"  # 3,224,224
num_training_samples = NUM_TRAINING_SAMPLES  # 15420
num_classes = NUM_CLASSES  # 257
mini_batch_size = "64"
epochs = "2"
learning_rate = "0.01"

# [15]
import time
import boto3
from time import gmtime, strftime

s3 = boto3.client("s3")
job_name_prefix = "DEMO-imageclassification"
job_name = job_name_prefix + "-" + time.strftime("-%Y-%m-%d-%H-%M-%S", time.gmtime())
training_params = {
    "AlgorithmSpecification": {"TrainingImage": training_image, "TrainingInputMode": "File"},
    "RoleArn": role,
    "OutputDataConfig": {"S3OutputPath": "s3://{}/{}/output".format(bucket, job_name_prefix)},
    "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.p3.2xlarge", "VolumeSizeInGB": 50},
    "TrainingJobName": job_name,
    "HyperParameters": {
        "image_shape": image_shape,
        "num_layers": str(num_layers),
        "num_training_samples": str(num_training_samples),
        "num_classes": str(num_classes),
        "mini_batch_size": str(mini_batch_size),
        "epochs": str(epochs),
        "learning_rate": str(learning_rate),
    },
    "StoppingCondition": {"MaxRuntimeInSeconds": 360000},
    "InputDataConfig": [
        {
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": s3_train,
                                            "S3DataDistributionType": "FullyReplicated"}},
            "ContentType": "application/x-recordio",
            "CompressionType": "None",
        },
        {
            "ChannelName": "validation",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": s3_validation,
                                            "S3DataDistributionType": "FullyReplicated"}},
            "ContentType": "application/x-recordio",
            "CompressionType": "None",
        },
    ],
}
print("Training job name: {}".format(job_name))
print("\nInput Data Location: {}".format(training_params["InputDataConfig"][0]["DataSource"]["S3DataSource"]))

# [16]
sagemaker = boto3.client(service_name="sagemaker")
sagemaker.create_training_job(**training_params)

status = sagemaker.describe_training_job(TrainingJobName=job_name)["TrainingJobStatus"]
print("Training job current status: {}".format(status))

try:
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=job_name)
    training_info = sagemaker.describe_training_job(TrainingJobName=job_name)
    status = training_info["TrainingJobStatus"]
    print("Training job ended with status: " + status)
except:  # noqa: E722 - the notebook's own handler
    print("Training failed to start")
    message = sagemaker.describe_training_job(TrainingJobName=job_name)["FailureReason"]
    print("Training failed with the following error: {}".format(message))

# [17]
training_info = sagemaker.describe_training_job(TrainingJobName=job_name)
status = training_info["TrainingJobStatus"]
print("Training job ended with status: " + status)
results["training_job"], results["training_status"] = job_name, status

# [20]
from time import gmtime, strftime, sleep

tuning_job_name = "DEMO-hpo-ic-" + strftime("%d-%H-%M-%S", gmtime())

tuning_job_config = {
    "ParameterRanges": {
        "CategoricalParameterRanges": [],
        "ContinuousParameterRanges": [
            {"MaxValue": "0.999", "MinValue": "1e-6", "Name": "beta_1"},
            {"MaxValue": "0.999", "MinValue": "1e-6", "Name": "beta_2"},
            {"MaxValue": "1.0", "MinValue": "1e-8", "Name": "eps"},
            {"MaxValue": "0.999", "MinValue": "1e-8", "Name": "gamma"},
            {"MaxValue": "0.5", "MinValue": "1e-6", "Name": "learning_rate"},
            {"MaxValue": "0.999", "MinValue": "0.0", "Name": "momentum"},
            {"MaxValue": "0.999", "MinValue": "0.0", "Name": "weight_decay"},
        ],
        "IntegerParameterRanges": [{"MaxValue": "64", "MinValue": "8", "Name": "mini_batch_size"}],
    },
    "ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2},
    "Strategy": "Bayesian",
    "HyperParameterTuningJobObjective": {"MetricName": "validation:accuracy", "Type": "Maximize"},
}

training_job_definition = {
    "AlgorithmSpecification": {"TrainingImage": training_image, "TrainingInputMode": "File"},
    "InputDataConfig": training_params["InputDataConfig"],  # the same two channels, written out in the cell
    "OutputDataConfig": {"S3OutputPath": "s3://{}/{}/output".format(bucket, job_name_prefix)},
    "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.p2.xlarge", "VolumeSizeInGB": 50},
    "RoleArn": role,
    "StaticHyperParameters": {
        "num_training_samples": str(num_training_samples),
        "num_classes": str(num_classes),
        "num_layers": str(num_layers),
        "image_shape": image_shape,
        "epochs": "2",
    },
    "StoppingCondition": {"MaxRuntimeInSeconds": 43200},
}

sagemaker.create_hyper_parameter_tuning_job(
    HyperParameterTuningJobName=tuning_job_name,
    HyperParameterTuningJobConfig=tuning_job_config,
    TrainingJobDefinition=training_job_definition,
)

status = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job_name)[
    "HyperParameterTuningJobStatus"
]
print(status)
while status != "Completed" and status != "Failed":
    time.sleep(60)
    status = sagemaker.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning_job_name
    )["HyperParameterTuningJobStatus"]
    print(status)
results["tuning_job"], results["tuning_status"] = tuning_job_name, status

# [23]
import boto3
from time import gmtime, strftime

sage = boto3.Session().client(service_name="sagemaker")

model_name = "DEMO-full-image-classification-model" + time.strftime("-%Y-%m-%d-%H-%M-%S", time.gmtime())
print(model_name)

if deploy_amt_model == True:  # noqa: E712 - the notebook's comparison
    training_of_model_to_be_hosted = sage.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning_job_name
    )["BestTrainingJob"]["TrainingJobName"]
else:
    training_of_model_to_be_hosted = job_name

info = sage.describe_training_job(TrainingJobName=training_of_model_to_be_hosted)
model_data = info["ModelArtifacts"]["S3ModelArtifacts"]
print(model_data)

hosting_image = image_uris.retrieve(region=boto3.Session().region_name, framework="image-classification")

primary_container = {
    "Image": hosting_image,
    "ModelDataUrl": model_data,
}

create_model_response = sage.create_model(
    ModelName=model_name, ExecutionRoleArn=role, PrimaryContainer=primary_container
)

print(create_model_response["ModelArn"])
results["hosted_job"], results["model_data"] = training_of_model_to_be_hosted, model_data

# [26] `aws s3 sync` of 008.bathtub from the examples bucket: the test wrote images/008.bathtub/
# [27] `aws s3 cp --recursive` (the AWS CLI) as boto3 uploads of the same keys
batch_input = "s3://{}/image-classification-full-training/test/".format(bucket)
test_images = "images/008.bathtub"  # /tmp/images/008.bathtub
for name in sorted(os.listdir(test_images)):
    s3_client.upload_file(os.path.join(test_images, name), bucket, f"image-classification-full-training/test/{name}")

# [28]
timestamp = time.strftime("-%Y-%m-%d-%H-%M-%S", time.gmtime())
batch_job_name = "image-classification-model" + timestamp
request = {
    "TransformJobName": batch_job_name,
    "ModelName": model_name,
    "MaxConcurrentTransforms": 16,
    "MaxPayloadInMB": 6,
    "BatchStrategy": "SingleRecord",
    "TransformOutput": {"S3OutputPath": "s3://{}/{}/output".format(bucket, batch_job_name)},
    "TransformInput": {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": batch_input}},
        "ContentType": "application/x-image",
        "SplitType": "None",
        "CompressionType": "None",
    },
    "TransformResources": {"InstanceType": "ml.c5.xlarge", "InstanceCount": 1},
}

print("Transform job name: {}".format(batch_job_name))
print("\nInput Data Location: {}".format(s3_validation))

# [29]
sagemaker = boto3.client("sagemaker")
sagemaker.create_transform_job(**request)

print("Created Transform job with name: ", batch_job_name)

while True:
    response = sagemaker.describe_transform_job(TransformJobName=batch_job_name)
    status = response["TransformJobStatus"]
    if status == "Completed":
        print("Transform job ended with status: " + status)
        break
    if status == "Failed":
        message = response["FailureReason"]
        print("Transform failed with the following error: {}".format(message))
        raise Exception("Transform job failed")
    time.sleep(30)
results["transform_status"] = status

# [31]
from urllib.parse import urlparse
import json
import numpy as np

object_categories = ["ak47", "american-flag", "backpack", "baseball-bat"][: int(num_classes)]  # 257 names


def list_objects(s3_client, bucket, prefix):
    response = s3_client.list_objects(Bucket=bucket, Prefix=prefix)
    objects = [content["Key"] for content in response["Contents"]]
    return objects


def get_label(s3_client, bucket, prefix):
    filename = prefix.split("/")[-1]
    s3_client.download_file(bucket, prefix, filename)
    with open(filename) as f:
        data = json.load(f)
        index = np.argmax(data["prediction"])
        probability = data["prediction"][index]
    print("Result: label - " + object_categories[index] + ", probability - " + str(probability))
    return object_categories[index], probability


inputs = list_objects(s3_client, bucket, urlparse(batch_input).path.lstrip("/"))
print("Sample inputs: " + str(inputs[:2]))

outputs = list_objects(s3_client, bucket, batch_job_name + "/output")
print("Sample output: " + str(outputs[:2]))

labels = [get_label(s3_client, bucket, prefix) for prefix in outputs[0:10]]
results["batch_inputs"], results["batch_outputs"] = inputs, outputs
results["batch_labels"] = [[label, float(p)] for label, p in labels]

# [34]
from time import gmtime, strftime

timestamp = time.strftime("-%Y-%m-%d-%H-%M-%S", time.gmtime())
endpoint_config_name = job_name_prefix + "-epc-" + timestamp
endpoint_config_response = sage.create_endpoint_config(
    EndpointConfigName=endpoint_config_name,
    ProductionVariants=[
        {
            "InstanceType": "ml.m4.xlarge",
            "InitialInstanceCount": 1,
            "ModelName": model_name,
            "VariantName": "AllTraffic",
        }
    ],
)

print("Endpoint configuration name: {}".format(endpoint_config_name))
print("Endpoint configuration arn:  {}".format(endpoint_config_response["EndpointConfigArn"]))

# [36]
import time

timestamp = time.strftime("-%Y-%m-%d-%H-%M-%S", time.gmtime())
endpoint_name = job_name_prefix + "-ep-" + timestamp
print("Endpoint name: {}".format(endpoint_name))

endpoint_params = {
    "EndpointName": endpoint_name,
    "EndpointConfigName": endpoint_config_name,
}
endpoint_response = sagemaker.create_endpoint(**endpoint_params)
print("EndpointArn = {}".format(endpoint_response["EndpointArn"]))

# [38]
response = sagemaker.describe_endpoint(EndpointName=endpoint_name)
status = response["EndpointStatus"]
print("EndpointStatus = {}".format(status))

sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=endpoint_name)

endpoint_response = sagemaker.describe_endpoint(EndpointName=endpoint_name)
status = endpoint_response["EndpointStatus"]
print("Endpoint creation ended with EndpointStatus = {}".format(status))

if status != "InService":
    raise Exception("Endpoint creation failed.")
results["endpoint_status"] = status

# [41]
import boto3

runtime = boto3.Session().client(service_name="runtime.sagemaker")

# [43] the test image is the test's file (not downloaded); IPython's Image() display left out
file_name = "test.jpg"  # /tmp/test.jpg

# [45]
import json
import numpy as np

with open(file_name, "rb") as f:
    payload = f.read()
    payload = bytearray(payload)
response = runtime.invoke_endpoint(EndpointName=endpoint_name, ContentType="application/x-image", Body=payload)
result = response["Body"].read()
result = json.loads(result)
index = np.argmax(result)
print("Result: label - " + object_categories[index] + ", probability - " + str(result[index]))
results["prediction"] = result

# [47]
sage.delete_endpoint(EndpointName=endpoint_name)
results["endpoint"] = endpoint_name

print("NOTEBOOK-RESULT " + json.dumps(results))
