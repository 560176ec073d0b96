"""The SageMaker Python SDK's own record reader (sagemaker.amazon.common.read_records, the
SDK's record_pb2) reads the semantic-segmentation protobuf answer: the format is the SDK's, not
merely one this repository writes and reads back."""
from __future__ import annotations

import io
import json
import subprocess

import numpy as np
import pytest
from PIL import Image

from emulator.sample_data import class_image, encode
from tests.sdk_venv import ensure_sdk_venv

pytestmark = pytest.mark.slow

READER = """
import io, json, sys
from sagemaker.amazon.common import read_records
records = read_records(io.BytesIO(open(sys.argv[1], "rb").read()))
features = records[0].features
print(json.dumps({"records": len(records), "shape": list(features["shape"].int32_tensor.values),
                  "target": list(features["target"].float32_tensor.values)}))
"""


def test_sdk_reads_the_recordio_protobuf_answer(servers, tmp_path):
    server = servers("semantic-segmentation")
    image = encode(class_image(1, 3, (21, 30), np.random.RandomState(6)))
    response = server.invoke(image, "image/jpeg", accept="application/x-recordio-protobuf")
    assert response.status_code == 200, response.text
    (tmp_path / "answer.bin").write_bytes(response.content)
    run = subprocess.run([str(ensure_sdk_venv()), "-c", READER, str(tmp_path / "answer.bin")], capture_output=True,
                         text=True, env={"SAGEMAKER_SUPPRESS_V2_WARNING": "1", "PATH": "/usr/bin:/bin"}, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    read = json.loads(run.stdout.strip().splitlines()[-1])
    assert read["records"] == 1 and read["shape"] == [1, 3, 21, 30]
    probabilities = np.array(read["target"], dtype=np.float32).reshape(3, 21, 30)
    np.testing.assert_allclose(probabilities.sum(axis=0), 1.0, rtol=1e-5)
    mask = server.invoke(image, "image/jpeg", accept="image/png").content
    assert np.array_equal(probabilities.argmax(axis=0), np.array(Image.open(io.BytesIO(mask))))
