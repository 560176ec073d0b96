"""The public notebooks' hosting and batch cells for one built-in algorithm, run by .venv-sdk.

Unchanged apart from the endpoint settings (environment: AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3),
the bucket given to the Session, and sizes small enough for a CPU. The estimator is fitted
first, as in the notebooks (the server's training command only copies an exported model).

    python hosting.py ALGORITHM BUCKET PREFIX IMAGE_FILE
Prints one JSON line at the end: what predict() answered (base64 for binary answers) with
IdentitySerializer("image/jpeg") and with the SDK's default serializer, and every .out of the
batch transform.
"""
import base64
import json
import logging
import sys

import boto3
import sagemaker
from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.predictor import Predictor
from sagemaker.serializers import IdentitySerializer

# Model.deploy(endpoint_logging=True) prints the endpoint's CloudWatch lines through the SDK's logger.
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

algorithm, bucket, prefix, image_file = sys.argv[1:5]
region = "us-east-1"
sess = sagemaker.Session(default_bucket=bucket)
role = "arn:aws:iam::123456789012:role/SageMakerRole"
hyperparameters = {
    "image-classification": {"num_layers": 18, "image_shape": "3,32,32", "num_classes": 4,
                             "num_training_samples": 16, "epochs": 1},
    "object-detection": {"base_network": "resnet-50", "num_classes": 2, "num_training_samples": 16,
                         "image_shape": 300, "epochs": 1},
    "semantic-segmentation": {"backbone": "resnet-50", "algorithm": "fcn", "num_classes": 3,
                              "num_training_samples": 16, "epochs": 1, "crop_size": 32},
}[algorithm]

estimator = Estimator(image_uris.retrieve(algorithm, region), role, instance_count=1,
                      instance_type="ml.p2.xlarge", output_path=f"s3://{bucket}/{prefix}/output",
                      sagemaker_session=sess)
estimator.set_hyperparameters(**hyperparameters)
estimator.fit({"train": f"s3://{bucket}/{prefix}/train/"}, logs=False)

# Hosting cells: deploy, predict with the notebooks' serializer and with the SDK's defaults, delete.
if algorithm == "object-detection":
    # Model.deploy(endpoint_logging=True) tails the endpoint's CloudWatch log group while it waits.
    predictor = estimator.create_model().deploy(initial_instance_count=1, instance_type="ml.m4.xlarge",
                                                endpoint_logging=True)
else:
    predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m4.xlarge")
payload = open(image_file, "rb").read()
predictor.serializer = IdentitySerializer("image/jpeg")
accept = {"semantic-segmentation": "image/png"}.get(algorithm)
identity = predictor.predict(payload, initial_args={"Accept": accept} if accept else None,
                             custom_attributes="notebook=1")
defaults = Predictor(predictor.endpoint_name, sagemaker_session=sess).predict(payload)
runtime = boto3.client("sagemaker-runtime", region_name=region).invoke_endpoint(
    EndpointName=predictor.endpoint_name, ContentType="application/x-image", Body=payload)
boto3_answer = runtime["Body"].read()
endpoint = predictor.endpoint_name
predictor.delete_endpoint()

# Batch cells: a transformer from the estimator, over the test images in S3.
transformer = estimator.transformer(instance_count=1, instance_type="ml.m4.xlarge",
                                    output_path=f"s3://{bucket}/{prefix}/batch-output/",
                                    accept=accept)
transformer.transform(f"s3://{bucket}/{prefix}/test/", content_type="application/x-image", split_type="None")
transformer.wait()

s3 = boto3.client("s3")
outputs = {}
for item in s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/batch-output/").get("Contents", []):
    body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    outputs[item["Key"].split("/batch-output/", 1)[1]] = base64.b64encode(body).decode()


def shown(answer: bytes) -> str:
    return base64.b64encode(answer).decode()


print(json.dumps({"endpoint": endpoint, "identity": shown(identity), "defaults": shown(defaults),
                  "boto3": shown(boto3_answer), "boto3_variant": runtime["InvokedProductionVariant"],
                  "transform_job": transformer.latest_transform_job.name, "outputs": outputs}))
