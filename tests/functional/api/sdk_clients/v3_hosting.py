"""SDK v3's hosting path for a built-in algorithm's model, run by .venv-sdk3 against `smlocal api`.

`ModelBuilder(...).build()` then `.deploy()` (a sagemaker.core.resources.Endpoint), `invoke()`
with an image, the same through boto3's sagemaker-runtime, then the endpoint, its
configuration and the model deleted through the resource classes. Only the endpoint settings
are in the environment (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3); role validation is on.

    python v3_hosting.py MODEL_DATA_S3_URI IMAGE_FILE
Prints one JSON line at the end.
"""
import base64
import json
import logging
import sys

import boto3
from sagemaker.core import image_uris
from sagemaker.core.resources import Endpoint, EndpointConfig, Model
from sagemaker.serve import ModelBuilder

logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s: %(message)s")

model_data, image_file = sys.argv[1], sys.argv[2]
region = "us-east-1"
role = "arn:aws:iam::123456789012:role/SageMakerRole"
payload = open(image_file, "rb").read()

builder = ModelBuilder(image_uri=image_uris.retrieve("image-classification", region), s3_model_data_url=model_data,
                       role_arn=role, instance_type="ml.m5.xlarge")
model = builder.build()
endpoint = builder.deploy(initial_instance_count=1, instance_type="ml.m5.xlarge")
answer = endpoint.invoke(body=payload, content_type="application/x-image", accept="application/json")
probabilities = json.loads(answer.body.read())
runtime = boto3.client("sagemaker-runtime", region_name=region).invoke_endpoint(
    EndpointName=endpoint.endpoint_name, ContentType="image/jpeg", Body=payload)
described = Endpoint.get(endpoint.endpoint_name)

config_name = described.endpoint_config_name
endpoint.delete()
endpoint.wait_for_delete(poll=1, timeout=120)
EndpointConfig.get(config_name).delete()
Model.get(model.model_name).delete()
print()  # the SDK's transient progress panel (rich) leaves its last line open
print(json.dumps({"endpoint": described.endpoint_name, "status": described.endpoint_status,
                  "model": model.model_name, "config": config_name, "probabilities": probabilities,
                  "boto3": base64.b64encode(runtime["Body"].read()).decode(),
                  "variant": runtime["InvokedProductionVariant"]}))
