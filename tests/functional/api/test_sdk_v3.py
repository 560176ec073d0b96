"""The SageMaker Python SDK v3 (own venv, .venv-sdk3) against `smlocal api`, a test per call path:
ModelTrainer's training and warm start, the TrainingJob resource, ModelBuilder's hosting.

Real clients only: the SDK talks to the API through AWS_ENDPOINT_URL (SageMaker, Logs,
CloudWatch, and the IAM and STS calls of its role check, which stays on) and to SeaweedFS
through AWS_ENDPOINT_URL_S3; the server runs the real image-classification algorithm with the
runner `auto` picks. One server, one data set and one trained model for the session
(tests/functional/api/conftest.py).
"""
from __future__ import annotations

import base64
import io
import json
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest

from emulator.sample_data import class_image, encode
from tests.functional.api.conftest import IC_IMAGE, ROLE, SDK_NUM_CLASSES, SDK_PER_CLASS
from tests.sdk_venv import CONSTRAINTS3, VENV3, ensure_sdk_venv, sdk_client_env

pytestmark = [pytest.mark.slow, pytest.mark.s3]

CLIENTS = Path(__file__).with_name("sdk_clients")


@pytest.fixture(scope="session")
def sdk3_python() -> Path:
    return ensure_sdk_venv(VENV3, CONSTRAINTS3)


def run_client(python: Path, script: str, args: list[str], env: dict, folder: Path, server) -> tuple[dict, str]:
    run = subprocess.run([str(python), str(CLIENTS / script), *args], env=env, capture_output=True, text=True,
                         timeout=600)
    output = run.stdout + run.stderr
    (folder / f"{script}.txt").write_text(output)
    assert run.returncode == 0, f"{output[-8000:]}\n--- server log ---\n{server.log()[-4000:]}"
    return json.loads(run.stdout.strip().splitlines()[-1]), output


def test_sdk_v3_model_trainer_trains_and_warm_starts_with_role_validation_on(sdk3_python, sdk_api, sdk_data,
                                                                               s3_server, tmp_path):
    bucket, prefix = sdk_data
    result, output = run_client(sdk3_python, "v3_training.py",
                                [bucket, prefix, str(SDK_NUM_CLASSES), str(SDK_NUM_CLASSES * SDK_PER_CLASS)],
                                sdk_client_env(sdk_api.endpoint, s3_server.endpoint, tmp_path), tmp_path, sdk_api)

    # The role check ran (IAM SimulatePrincipalPolicy and GetRole answered) and passed.
    assert f"Role '{ROLE}' validated for training" in output
    assert "Could not verify permissions" not in output and "Skipping IAM role validation" not in output
    base = f"s3://{bucket}/{prefix}/output"
    assert result["first"].startswith("ic-v3-") and result["first"] != result["second"]
    assert result["first_model"] == f"{base}/{result['first']}/output/model.tar.gz"
    assert result["second_model"] == f"{base}/{result['second']}/output/model.tar.gz"
    assert result["statuses"] == ["Completed", "Completed"]
    assert result["second_channels"] == {"train": "application/x-recordio", "validation": "application/x-recordio",
                                         "model": "application/x-sagemaker-model"}

    # TrainingJob.wait(logs=True) printed the jobs' CloudWatch streams as v3 does: `<stream>:` then the line.
    stream = f"{result['first']}/algo-1-"
    assert f"sagemaker.core.resources INFO: {stream}" in output
    assert "[smlocal] Runner: " in output and "Epoch[0] Validation-accuracy=" in output
    assert "Final Resource Status: [bold]Completed" in output
    # The second job started from the first one's parameters.
    assert "Incremental training: initialising from image-classification-0001.params" in output

    sm = sdk_api.client("sagemaker")
    second = sm.describe_training_job(TrainingJobName=result["second"])
    assert second["TrainingJobStatus"] == "Completed" and second["RoleArn"] == ROLE
    model_channel = next(c for c in second["InputDataConfig"] if c["ChannelName"] == "model")
    assert model_channel["DataSource"]["S3DataSource"]["S3Uri"] == result["first_model"]
    body = s3_server.client().get_object(Bucket=bucket, Key=result["second_model"].split(f"{bucket}/", 1)[1])["Body"]
    with tarfile.open(fileobj=io.BytesIO(body.read())) as tar:
        assert "image-classification-symbol.json" in tar.getnames()


def test_sdk_v3_training_job_get_refresh_and_wait_with_logs(sdk3_python, sdk_api, trained_ic_model, s3_server,
                                                           tmp_path):
    result, output = run_client(sdk3_python, "v3_training_job.py", [trained_ic_model.job],
                                sdk_client_env(sdk_api.endpoint, s3_server.endpoint, tmp_path), tmp_path, sdk_api)
    described = sdk_api.client("sagemaker").describe_training_job(TrainingJobName=trained_ic_model.job)
    assert result["name"] == trained_ic_model.job and result["arn"] == described["TrainingJobArn"]
    assert (result["status"], result["secondary"]) == ("Completed", "Completed")
    assert result["role"] == ROLE and result["image"] == IC_IMAGE and result["channels"] == ["train", "validation"]
    assert result["model"] == trained_ic_model.model_data
    assert result["metrics"] == {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert 0 <= result["metrics"]["validation:accuracy"] <= 1
    assert result["transitions"] == [t["Status"] for t in described["SecondaryStatusTransitions"]]
    assert result["hyperparameters"]["epochs"] == "1"
    # wait(logs=True) on a finished job prints its whole stream, then the final status.
    assert f"sagemaker.core.resources INFO: {trained_ic_model.job}/algo-1-" in output
    assert "Epoch[0] Validation-accuracy=" in output and "Final Resource Status: [bold]Completed" in output
    # An unknown job: v3's own error for the service's ValidationException.
    assert "Requested resource not found" in result["missing"], result["missing"]


def test_sdk_v3_model_builder_deploys_and_invokes_a_built_in_model(sdk3_python, sdk_api, trained_ic_model, s3_server,
                                                                   tmp_path):
    image = tmp_path / "payload.jpg"
    image.write_bytes(encode(class_image(0, SDK_NUM_CLASSES, (40, 50), np.random.RandomState(0))))
    result, output = run_client(sdk3_python, "v3_hosting.py", [trained_ic_model.model_data, str(image)],
                                sdk_client_env(sdk_api.endpoint, s3_server.endpoint, tmp_path), tmp_path, sdk_api)

    assert result["status"] == "InService"
    probabilities = result["probabilities"]
    assert len(probabilities) == SDK_NUM_CLASSES and abs(sum(probabilities) - 1) < 1e-4
    np.testing.assert_allclose(json.loads(base64.b64decode(result["boto3"])), probabilities, rtol=1e-4, atol=1e-6)
    assert result["variant"] == "AllTraffic"
    # deploy() tailed the endpoint's CloudWatch log group while it waited.
    assert "GET /ping answered 200" in output
    # Endpoint.delete(), EndpointConfig.delete() and Model.delete() removed all three.
    sm = sdk_api.client("sagemaker")
    assert sm.list_endpoints(NameContains=result["endpoint"])["Endpoints"] == []
    assert sm.list_endpoint_configs(NameContains=result["config"])["EndpointConfigs"] == []
    assert sm.list_models(NameContains=result["model"])["Models"] == []
