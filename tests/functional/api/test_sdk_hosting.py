"""The SageMaker Python SDK v2 (own venv) runs the notebooks' hosting and batch cells against `smlocal api`.

For each built-in algorithm: `estimator.deploy(initial_instance_count=1, instance_type="ml.m4.xlarge")`
(object detection: `Model.deploy(..., endpoint_logging=True)`, which tails the endpoint's logs),
`predict()` with IdentitySerializer("image/jpeg") and with the SDK's default serializer, boto3's
sagemaker-runtime invoke_endpoint, `delete_endpoint()`, then `estimator.transformer(...)
.transform(s3_uri, content_type="application/x-image", split_type="None")` and `wait()`. The
endpoints and transform jobs run the real `python -m container serve` (process runner); the
"training" before them copies a random-weight model exported by the algorithm's own code
(exported_model_job.py), so the test spends its time on hosting, not on training. The three
algorithms run at once, each its own SDK process, against one server and SeaweedFS; the SDK's
own timers (30 s between deploy polls, 10 s for logs) make it take about two minutes.
"""
from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emulator.sample_data import class_image, encode
from tests.functional.api.conftest import ApiServer, free_port
from tests.functional.serving import models
from tests.sdk_venv import ensure_sdk_venv

pytestmark = [pytest.mark.slow, pytest.mark.s3]

CLIENT = Path(__file__).with_name("sdk_clients") / "hosting.py"
TRAINING = Path(__file__).parents[1] / "hosting" / "exported_model_job.py"
ALGORITHMS = ("image-classification", "object-detection", "semantic-segmentation")
TELEMETRY_OPT_OUT = """SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
"""
SIZES = [(40, 50), (36, 36)]  # (height, width) of the test images


@pytest.fixture(scope="module")
def exported_models(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("exported-models")
    models.image_classification(root / "image-classification")
    models.object_detection(root / "object-detection")
    models.semantic_segmentation(root / "semantic-segmentation")
    return root


def _images() -> list[bytes]:
    return [encode(class_image(i, 4, size, np.random.RandomState(i))) for i, size in enumerate(SIZES)]


def test_notebook_hosting_and_batch_cells_run_unchanged(exported_models, s3_server, s3_bucket, tmp_path):
    sdk_python = ensure_sdk_venv()
    s3 = s3_server.client()
    images = _images()
    for algorithm in ALGORITHMS:
        s3.put_object(Bucket=s3_bucket, Key=f"{algorithm}/train/train.rec", Body=b"unused by the copy job")
        for i, image in enumerate(images):
            s3.put_object(Bucket=s3_bucket, Key=f"{algorithm}/test/img-{i}.jpg", Body=image)
    (tmp_path / "payload.jpg").write_bytes(images[0])

    server_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMLOCAL_"))}
    server_env.update(s3_server.env())
    server_env.update({"SMLOCAL_PROCESS_COMMAND": f"{sys.executable} {TRAINING}",
                       "SMLOCAL_TEST_MODELS": str(exported_models)})
    server = ApiServer(tmp_path / "home", free_port(), ["--runner", "process", "--stop-grace", "10"],
                       server_env).start()
    try:
        config = tmp_path / "sagemaker-config.yaml"
        config.write_text(TELEMETRY_OPT_OUT)
        client_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        client_env.update({
            "AWS_ENDPOINT_URL": server.endpoint, "AWS_ENDPOINT_URL_S3": s3_server.endpoint,
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
            "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config), "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
        })
        runs = {algorithm: subprocess.Popen(
            [str(sdk_python), str(CLIENT), algorithm, s3_bucket, algorithm, str(tmp_path / "payload.jpg")],
            env=client_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for algorithm in ALGORITHMS}
        results, outputs = {}, {}
        for algorithm, run in runs.items():
            output = run.communicate(timeout=900)[0]
            outputs[algorithm] = output
            (tmp_path / f"sdk-{algorithm}.txt").write_text(output)
            assert run.returncode == 0, f"{algorithm}:\n{output[-6000:]}\n--- server log ---\n{server.log()[-4000:]}"
            results[algorithm] = json.loads(output.strip().splitlines()[-1])
        # delete_endpoint() took the endpoints down; every transform job completed.
        sm = server.client("sagemaker")
        deadline = time.monotonic() + 60
        while sm.list_endpoints()["Endpoints"] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert sm.list_endpoints()["Endpoints"] == []
        for result in results.values():
            job = sm.describe_transform_job(TransformJobName=result["transform_job"])
            assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
        assert not server.checker.violations
    finally:
        server.stop()

    decoded = {a: {k: base64.b64decode(v) for k, v in r.items() if k in ("identity", "defaults", "boto3")}
               for a, r in results.items()}
    names = sorted(f"img-{i}.jpg.out" for i in range(len(images)))

    # Image classification: a bare list of probabilities in real time, {"prediction": [...]} in batch.
    ic = decoded["image-classification"]
    probabilities = json.loads(ic["identity"])
    assert len(probabilities) == models.IC_CLASSES and abs(sum(probabilities) - 1) < 1e-4
    for other in ("defaults", "boto3"):  # octet-stream and application/x-image answer the same
        np.testing.assert_allclose(json.loads(ic[other]), probabilities, rtol=1e-4, atol=1e-6)
    ic_out = {k: json.loads(base64.b64decode(v)) for k, v in results["image-classification"]["outputs"].items()}
    assert sorted(ic_out) == names
    np.testing.assert_allclose(ic_out["img-0.jpg.out"]["prediction"], probabilities, rtol=1e-4, atol=1e-6)
    assert results["image-classification"]["boto3_variant"] == "AllTraffic"

    # Object detection: {"prediction": [[class, score, xmin, ymin, xmax, ymax], ...]}, normalised.
    od = json.loads(decoded["object-detection"]["identity"])["prediction"]
    assert od and all(len(row) == 6 and 0 <= row[2] <= row[4] <= 1 for row in od)
    assert json.loads(decoded["object-detection"]["defaults"]) == {"prediction": od}
    # Model.deploy(endpoint_logging=True) printed the endpoint's CloudWatch lines while it waited.
    assert "Docker entrypoint called with argument(s): serve" in outputs["object-detection"]
    od_out = results["object-detection"]["outputs"]
    assert sorted(od_out) == names and "prediction" in json.loads(base64.b64decode(od_out["img-1.jpg.out"]))

    # Semantic segmentation with Accept image/png: a class-id PNG at the input's size.
    mask = Image.open(io.BytesIO(decoded["semantic-segmentation"]["identity"]))
    assert mask.size == (SIZES[0][1], SIZES[0][0]) and max(np.asarray(mask).ravel()) < models.SS_CLASSES
    ss_out = results["semantic-segmentation"]["outputs"]
    assert sorted(ss_out) == names
    assert Image.open(io.BytesIO(base64.b64decode(ss_out["img-1.jpg.out"]))).size == (SIZES[1][1], SIZES[1][0])
