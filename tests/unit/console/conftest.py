"""The console inside the API's app (emulator.api.server.build), jobs run by the fake algorithm."""
import json
import re
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from emulator.api.server import ApiConfig, build

REPO = Path(__file__).resolve().parents[3]
FAKE_ALGORITHM = REPO / "tests" / "functional" / "emulator" / "fake_algorithm.py"
HOST = {"Host": "127.0.0.1:8777"}
OWN_ORIGIN = {**HOST, "Origin": "http://127.0.0.1:8777", "Sec-Fetch-Site": "same-origin"}


@contextmanager
def running_app(home: Path, algorithm: Path = FAKE_ALGORITHM, **config):
    """The API server's app (services and console) on `home`, jobs run by a stand-in algorithm."""
    patch = pytest.MonkeyPatch()
    patch.setenv("SMLOCAL_PROCESS_COMMAND", f"{sys.executable} {algorithm}")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        patch.delenv(name, raising=False)
    built, service, hosting, tuning = build(ApiConfig(home=home, runner="process", **config))
    try:
        yield built
    finally:
        tuning.shutdown()
        service.shutdown(5)
        hosting.shutdown(1)
        patch.undo()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("home")) as built:
        yield built


def console_token(client) -> str:
    """The CSRF token of the client's session, from a console form."""
    page = client.get("/console/sign-in", headers=HOST)
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.get_data(as_text=True))[1]


@pytest.fixture
def browser(app):
    """A test client with the console's session cookie, and the token its pages carry."""
    client = app.test_client()
    page = client.get("/console/create-training-job", headers=HOST)
    assert page.status_code == 200
    client.token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.get_data(as_text=True))[1]
    return client


def message(answer) -> str:
    """The AWS-shaped refusal's message (`{"__type": ..., "message": ...}`)."""
    return json.loads(answer.get_data())["message"]


def form(tmp_path, name="console-unit", **fields):
    data_dir = tmp_path / "train"
    data_dir.mkdir(exist_ok=True)
    (data_dir / "a.txt").write_text("alpha")
    values = {"job_name": name, "role_arn": "arn:aws:iam::123456789012:role/SageMakerRole", "algorithm": "custom",
              "image_uri": "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1",
              "input_mode": "File", "instance_type": "ml.m5.large", "instance_count": "1", "volume_size": "1",
              "max_runtime": "600", "channel-0-name": "train", "channel-0-input_mode": "",
              "channel-0-distribution": "FullyReplicated", "channel-0-compression": "None",
              "channel-0-content_type": "", "channel-0-record_wrapper": "None", "channel-0-s3_data_type": "S3Prefix",
              "channel-0-s3_uri": data_dir.as_uri(), "output_path": (tmp_path / "out").as_uri(),
              "tag-0-key": "project", "tag-0-value": "console", "action": "create"}
    values.update(fields)
    return values
