"""The SageMaker Python SDK v2 (own venv) runs the incremental-training guide against `smlocal api`.

Real clients only: the SDK in `.venv-sdk` talks to the API through AWS_ENDPOINT_URL and to
SeaweedFS through AWS_ENDPOINT_URL_S3; the server trains the real image-classification
algorithm with whichever runner it picks by default. `fit(logs=True)` waits at least 5 s + 30 s
+ 10 s per job by the SDK's own timers, so this test is slow.
"""
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from emulator.instance_types import visible_gpu_count
from emulator.sample_data import make_classification_set
from tests.functional.api.conftest import ApiServer, free_port
from tests.sdk_venv import ensure_sdk_venv

pytestmark = [pytest.mark.slow, pytest.mark.s3]

CLIENT = Path(__file__).with_name("sdk_clients") / "incremental_training.py"
NUM_CLASSES = 4
PER_CLASS = 16
TELEMETRY_OPT_OUT = """SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
"""


@pytest.fixture(scope="session")
def sdk_python():
    return ensure_sdk_venv()


def test_sdk_v2_incremental_training_guide_runs_unchanged(sdk_python, s3_server, s3_bucket, tmp_path):
    s3 = s3_server.client()
    prefix = "ic-incremental"
    for channel, count, seed in (("train", PER_CLASS, 1), ("validation", PER_CLASS // 4, 2)):
        data = make_classification_set(tmp_path / channel, NUM_CLASSES, count, size=(32, 32), seed=seed)
        s3.upload_file(str(data["rec"]), s3_bucket, f"{prefix}/{channel}/{channel}.rec")

    server_env = {k: v for k, v in os.environ.items()
                  if not k.startswith(("AWS_", "SMLOCAL_PROCESS_COMMAND"))}
    server_env.update(s3_server.env())
    server = ApiServer(tmp_path / "home", free_port(), ["--stop-grace", "10"], server_env).start()
    try:
        config = tmp_path / "sagemaker-config.yaml"
        config.write_text(TELEMETRY_OPT_OUT)
        client_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        client_env.update({
            "AWS_ENDPOINT_URL": server.endpoint,            # sagemaker, logs, cloudwatch -> smlocal api
            "AWS_ENDPOINT_URL_S3": s3_server.endpoint,      # s3 -> SeaweedFS (the specific variable wins)
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
            "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config), "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
        })
        run = subprocess.run([str(sdk_python), str(CLIENT), s3_bucket, prefix, str(NUM_CLASSES),
                              str(NUM_CLASSES * PER_CLASS)], env=client_env, capture_output=True, text=True,
                             timeout=900)
        output = run.stdout + run.stderr
        (tmp_path / "sdk-output.txt").write_text(output)
        assert run.returncode == 0, f"{output}\n--- server log ---\n{server.log()}"
        result = json.loads(run.stdout.strip().splitlines()[-1])

        base = f"s3://{s3_bucket}/{prefix}/output"
        assert result["first_model"] == f"{base}/{result['first']}/output/model.tar.gz"
        assert result["second_model"] == f"{base}/{result['second']}/output/model.tar.gz"
        assert result["attached_model"] == result["second_model"]  # Estimator.attach
        assert result["first"].startswith("image-classification-") and result["first"] != result["second"]
        body = s3.get_object(Bucket=s3_bucket, Key=result["second_model"].split(f"{s3_bucket}/", 1)[1])["Body"]
        with tarfile.open(fileobj=io.BytesIO(body.read())) as tar:
            names = tar.getnames()
        assert "image-classification-symbol.json" in names and any(n.endswith(".params") for n in names)

        # What fit(logs=True) printed: the status transitions from Describe, the job's CloudWatch
        # stream (runner choice, the GPU note, the algorithm's lines), the SDK's closing lines.
        assert "Starting - Preparing the instances for training" in output
        assert "Downloading - Downloading input data" in output
        assert "Training - Training image download completed. Training in progress." in output
        assert "Completed - Training job completed" in output
        expected_runner = "docker" if _local_image_exists("smlocal/image-classification:latest") else "process"
        assert f"[smlocal] Runner: {expected_runner}" in output
        assert "Epoch[0] Train-accuracy=" in output and "Epoch[1] Validation-accuracy=" in output
        assert "Incremental training: initialising from" in output
        assert "Training seconds:" in output and "Billable seconds:" in output
        if visible_gpu_count() == 0:
            assert "ml.p2.xlarge has GPUs, but" in output
        # TrainingJobAnalytics read the per-epoch values through CloudWatch GetMetricStatistics.
        assert result["validation_accuracy"] and all(0 <= v <= 1 for v in result["validation_accuracy"])

        sm = server.client("sagemaker")
        second = sm.describe_training_job(TrainingJobName=result["second"])
        assert second["TrainingJobStatus"] == "Completed"
        model_channel = next(c for c in second["InputDataConfig"] if c["ChannelName"] == "model")
        assert model_channel["ContentType"] == "application/x-sagemaker-model"
        assert model_channel["DataSource"]["S3DataSource"]["S3Uri"] == result["first_model"]
        assert server.checker.checked and not server.checker.violations
    finally:
        server.stop()


def _local_image_exists(tag: str) -> bool:
    """What the server's default runner choice depends on: an engine that answers and has the image."""
    try:
        import docker

        docker.from_env(timeout=10).images.get(tag)
        return True
    except Exception:  # noqa: BLE001 - no SDK, no engine, no image
        return False
