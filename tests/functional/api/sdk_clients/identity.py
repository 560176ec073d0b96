"""What the SDKs ask about roles and the caller, run by .venv-sdk (v2) or .venv-sdk3 (v3).

boto3's IAM and STS clients as the SDKs create them (endpoint from AWS_ENDPOINT_URL), with
their errors; `Session().default_bucket()` with the bucket named in the SDK config file (what
SAGEMAKER_USER_CONFIG_OVERRIDE names), which then exists on the S3 endpoint. With v3 also a
ModelTrainer without a role, which resolves the caller's role through STS and IAM and puts its
output in the default bucket. With `execution-role`, only `get_execution_role()`, which reads the
notebook metadata file the caller put at /opt/ml/metadata/resource-metadata.json.

    python identity.py calls|execution-role
Prints one JSON line at the end.
"""
import json
import logging
import sys

import boto3
from botocore.exceptions import ClientError

try:  # v3
    from sagemaker.core.helper.session_helper import Session, get_execution_role
    major = 3
except ImportError:  # v2
    from sagemaker import Session, get_execution_role
    major = 2

logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s: %(message)s")
role_arn = "arn:aws:iam::123456789012:role/SageMakerRole"


def error(call) -> dict:
    try:
        call()
    except ClientError as exc:
        return {"code": exc.response["Error"]["Code"], "message": exc.response["Error"]["Message"],
                "status": exc.response["ResponseMetadata"]["HTTPStatusCode"]}
    return {}


if sys.argv[1] == "execution-role":
    print(json.dumps({"major": major, "execution_role": get_execution_role()}))
    sys.exit(0)
iam, sts = boto3.client("iam"), boto3.client("sts")
wrong_key = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="not-the-secret")
result = {
    "major": major,
    "caller": {k: v for k, v in sts.get_caller_identity().items() if k != "ResponseMetadata"},
    "role": iam.get_role(RoleName="SageMakerRole")["Role"]["Arn"],
    "console_role": iam.get_role(RoleName="AmazonSageMaker-ExecutionRole-20240101T000000")["Role"]["Arn"],
    "arn_as_name": error(lambda: iam.get_role(RoleName=role_arn)),
    "sts_wrong_secret": error(lambda: wrong_key.client("sts").get_caller_identity()),
    "iam_wrong_secret": error(lambda: wrong_key.client("iam").get_role(RoleName="SageMakerRole")),
    "default_bucket": Session().default_bucket(),
}
bucket_exists = boto3.client("s3").head_bucket(Bucket=result["default_bucket"])
result["bucket_status"] = bucket_exists["ResponseMetadata"]["HTTPStatusCode"]
if major == 3:
    # Without a role, v3 takes the caller's: STS GetCallerIdentity, then IAM GetRole and its checks;
    # without an output path, one in the default bucket.
    from sagemaker.core import image_uris
    from sagemaker.train import ModelTrainer

    trainer = ModelTrainer(training_image=image_uris.retrieve("image-classification", "us-east-1"))
    result["trainer_role"] = trainer.role
    result["trainer_output"] = trainer.output_data_config.s3_output_path
print(json.dumps(result))
