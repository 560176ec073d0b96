"""The IAM and STS calls of the SageMaker Python SDKs, v2 (.venv-sdk) and v3 (.venv-sdk3), against
`smlocal api`, and what `Session().default_bucket()` and `get_execution_role()` need (docs/api.md).

Each SDK's own boto3 calls GetCallerIdentity and GetRole through AWS_ENDPOINT_URL, with the
errors of both services (a role ARN where IAM wants a name, a wrong secret);
`Session().default_bucket()` takes the bucket from the SDK config file and creates it on the S3
endpoint; `get_execution_role()` reads the notebook metadata file, which the client finds at
/opt/ml/metadata/resource-metadata.json in a mount namespace of its own (an overlay on /opt), so
the machine's /opt is never written.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.functional.api.conftest import ROLE
from tests.unavailable import unavailable
from tests.sdk_venv import CONSTRAINTS, CONSTRAINTS3, VENV, VENV3, ensure_sdk_venv, sdk_client_env

pytestmark = [pytest.mark.slow, pytest.mark.s3]

CLIENT = Path(__file__).with_name("sdk_clients") / "identity.py"
METADATA_FILE = "/opt/ml/metadata/resource-metadata.json"
# Mount an overlay on /opt (the namespace's own), put the metadata file in it, run the client.
WITH_METADATA = ('mount -t overlay overlay -o "lowerdir=/opt,upperdir=$1/upper,workdir=$1/work" /opt'
                 f' && mkdir -p {os.path.dirname(METADATA_FILE)} && cp "$1/metadata.json" {METADATA_FILE}'
                 ' && shift && exec "$@"')


def namespace_command(folder: Path, metadata: dict) -> list[str]:
    """The prefix that runs a command where METADATA_FILE holds `metadata`; fails (skips outside CI)
    where this machine cannot make a private mount namespace."""
    (folder / "upper").mkdir(parents=True)
    (folder / "work").mkdir()
    (folder / "metadata.json").write_text(json.dumps(metadata))
    unshare = shutil.which("unshare")
    prefix = [unshare, "--mount", "--propagation", "private"] if unshare else []
    if unshare and os.geteuid() != 0:
        prefix[1:1] = ["--user", "--map-root-user"]
    probe = subprocess.run([*prefix, "sh", "-c", WITH_METADATA, "sh", str(folder), "cat", METADATA_FILE],
                           capture_output=True, text=True) if unshare else None
    if probe is None or probe.returncode != 0:
        message = f"cannot give the client its own {METADATA_FILE} here (unshare + overlay mount): " + (
            probe.stderr if probe is not None else "no unshare")
        unavailable(message, "CI runs as root, which may unshare a mount namespace")
    return [*prefix, "sh", "-c", WITH_METADATA, "sh", str(folder)]


def sdk_python(major: int) -> Path:
    return ensure_sdk_venv(VENV, CONSTRAINTS) if major == 2 else ensure_sdk_venv(VENV3, CONSTRAINTS3)


def run_client(command: list[str], env: dict, server) -> dict:
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"{output[-6000:]}\n--- server log ---\n{server.log()[-3000:]}"
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("major", [2, 3])
def test_sdk_iam_and_sts_calls_and_the_config_files_default_bucket(major, sdk_api, s3_server, tmp_path):
    bucket = f"default-{major}-{uuid.uuid4().hex[:10]}"
    env = sdk_client_env(sdk_api.endpoint, s3_server.endpoint, tmp_path)
    config = tmp_path / "sagemaker-config.yaml"  # the key default_bucket() reads, next to the opt-out
    config.write_text(config.read_text() + f"      Session:\n        DefaultS3Bucket: {bucket}\n")
    assert env["SAGEMAKER_USER_CONFIG_OVERRIDE"] == str(config)
    s3 = s3_server.client()
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    result = run_client([str(sdk_python(major)), str(CLIENT), "calls"], env, sdk_api)
    assert result["major"] == major
    assert result["caller"] == {"UserId": result["caller"]["UserId"], "Account": "123456789012",
                                "Arn": "arn:aws:sts::123456789012:assumed-role/SageMakerRole/smlocal"}
    assert result["role"] == ROLE
    assert result["console_role"] == \
        "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20240101T000000"
    # IAM's answer, in its XML, to an ARN where a role name belongs.
    assert result["arn_as_name"]["code"] == "ValidationError" and result["arn_as_name"]["status"] == 400
    assert f"Value '{ROLE}' at 'roleName' failed to satisfy constraint" in result["arn_as_name"]["message"]
    for service in ("sts", "iam"):
        assert (result[f"{service}_wrong_secret"]["code"], result[f"{service}_wrong_secret"]["status"]) == (
            "SignatureDoesNotMatch", 403)
    # default_bucket(): the config file's bucket, created on the S3 endpoint.
    assert result["default_bucket"] == bucket and result["bucket_status"] == 200
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    if major == 3:  # ModelTrainer without a role: the caller's, through STS and IAM; its output in the bucket
        assert result["trainer_role"] == ROLE
        assert result["trainer_output"].startswith(f"s3://{bucket}/")


@pytest.mark.parametrize("major", [2, 3])
def test_sdk_get_execution_role_reads_the_notebook_metadata_file(major, sdk_api, s3_server, tmp_path):
    env = sdk_client_env(sdk_api.endpoint, s3_server.endpoint, tmp_path)
    had_metadata = os.path.exists(METADATA_FILE)
    command = namespace_command(tmp_path / "namespace", {"ExecutionRoleArn": ROLE})
    result = run_client([*command, str(sdk_python(major)), str(CLIENT), "execution-role"], env, sdk_api)
    assert result == {"major": major, "execution_role": ROLE}
    assert os.path.exists(METADATA_FILE) == had_metadata  # the machine's /opt as it was
