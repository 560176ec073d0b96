"""One `smlocal api` for the whole session, for the SDK clients of this folder: the public notebooks
(tests/functional/notebooks/clients/) and the SDK's readers of Describe/List responses.

The server trains with the real algorithms (process runner, two hosts at once) and reads S3 from
SeaweedFS; its model store is filled by `smlocal pretrained import` of seeded stand-ins for the
ImageNet weights, so `use_pretrained_model=1` cells run. Each client runs in the notebooks' kernel
venv (.venv-notebooks: SDK v2, Pillow, matplotlib) with the endpoint settings of tests.sdk_venv and
an SDK config file that also names the bucket
(`SageMaker.PythonSDK.Modules.Session.DefaultS3Bucket`), so the notebooks' own
`sagemaker.Session()` / `sess.default_bucket()` lines run unchanged and never call STS.
"""
from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.functional.api.conftest import ApiServer, free_port
from tests.sdk_venv import (NOTEBOOKS_CONSTRAINTS, NOTEBOOKS_PACKAGES, NOTEBOOKS_VENV, TELEMETRY_OPT_OUT,
                            ensure_sdk_venv, sdk_client_env)

CLIENTS = Path(__file__).with_name("clients")
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
# The clients' time.sleep is capped (clients/capped_clock.py): the SDK's and the notebooks' polling
# timers (5-30 s in fit and deploy, 60 s loops, 120 s waiter delays) would otherwise be most of the
# run; the requests are the same, only the waits between them are shorter.
MAX_CLIENT_SLEEP_SECONDS = "0.5"
RESULT_MARKER = "NOTEBOOK-RESULT "


@pytest.fixture(scope="session")
def sdk_python() -> Path:
    return ensure_sdk_venv(NOTEBOOKS_VENV, NOTEBOOKS_CONSTRAINTS, NOTEBOOKS_PACKAGES)


@pytest.fixture(scope="session")
def model_store(tmp_path_factory) -> Path:
    """The weights the notebooks' use_pretrained_model settings read, imported as a user would."""
    import mxnet as mx
    from gluoncv.model_zoo import resnet50_v1, resnet50_v1s

    from tests.functional.pretrained.fill import import_into
    from tests.functional.pretrained.weights import classifier_checkpoint, gluon_file

    downloads = tmp_path_factory.mktemp("downloads")
    _, resnet18, _ = classifier_checkpoint(downloads, layers=18)
    detection = downloads / "resnet50_v1-cc729d95.params"
    gluon_file(resnet50_v1(pretrained=False), detection)
    segmentation = downloads / "resnet50_v1s-25a187fa.params"
    gluon_file(resnet50_v1s(pretrained=False), segmentation)
    mx.nd.waitall()
    store = tmp_path_factory.mktemp("model-store")
    for file, name in ((resnet18, "imagenet1k-resnet-18"), (detection, "resnet50_v1"), (segmentation, "resnet50_v1s")):
        result = import_into(store, [file], "--name", name)
        assert result.exit_code == 0, result.output
    return store


@pytest.fixture(scope="session")
def notebook_api(s3_server, model_store, tmp_path_factory) -> ApiServer:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMLOCAL_"))}
    env.update(s3_server.env())
    env["SMLOCAL_MODEL_STORE"] = str(model_store)
    server = ApiServer(tmp_path_factory.mktemp("notebook-api") / "home", free_port(),
                       ["--runner", "process", "--max-concurrent-jobs", "2", "--stop-grace", "10"], env).start()
    yield server
    server.stop()
    assert not server.checker.violations, server.checker.violations


@pytest.fixture(scope="session")
def notebook_bucket(s3_server) -> str:
    name = f"notebooks-{uuid.uuid4().hex[:10]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


@dataclass
class ClientRun:
    """An SDK client script running in the SDK venv; `result()` waits for its JSON result."""
    name: str
    process: subprocess.Popen
    transcript: Path

    def result(self, timeout: float = 900) -> tuple[dict, str]:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        output = self.transcript.read_text(errors="replace")
        assert self.process.returncode == 0, f"{self.name} exited with {self.process.returncode}:\n{output[-8000:]}"
        lines = [line for line in output.splitlines() if line.startswith(RESULT_MARKER)]
        assert lines, f"{self.name} printed no result:\n{output[-4000:]}"
        return json.loads(lines[-1][len(RESULT_MARKER):]), output


@pytest.fixture(scope="session")
def start_client(sdk_python, notebook_api, s3_server, notebook_bucket, tmp_path_factory):
    """start_client(script, workdir, *args) -> ClientRun: `clients/<script>` with `workdir` as its
    current folder (where the notebooks keep their files), BUCKET in its environment."""
    def start(script: str, workdir: Path, *args: str) -> ClientRun:
        env = sdk_client_env(notebook_api.endpoint, s3_server.endpoint, workdir)
        config = workdir / "sagemaker-config.yaml"
        config.write_text(TELEMETRY_OPT_OUT + f"      Session:\n        DefaultS3Bucket: {notebook_bucket}\n")
        env.update({"SAGEMAKER_USER_CONFIG_OVERRIDE": str(config), "BUCKET": notebook_bucket, "ROLE": ROLE,
                    "MAX_SLEEP_SECONDS": MAX_CLIENT_SLEEP_SECONDS, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"})
        transcript = workdir / f"{Path(script).stem}.log"
        with open(transcript, "wb") as out:
            command = [str(sdk_python), str(CLIENTS / "capped_clock.py"), str(CLIENTS / script), *args]
            process = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
        return ClientRun(script, process, transcript)
    return start


@pytest.fixture(scope="session")
def client_runs(request, start_client, tmp_path_factory):
    """Every client whose test is selected, all started at once: {name: ClientRun}. A test module
    lists its clients in NOTEBOOK_CLIENTS, {name: prepare(workdir) -> arguments}; `test_<name>` is
    the test that reads the result of `clients/<name>.py`. (A name of its own: other test modules
    of the session have a CLIENTS folder.)"""
    runs = {}
    for item in request.session.items:
        clients = getattr(getattr(item, "module", None), "NOTEBOOK_CLIENTS", {})
        name = item.name[len("test_"):]
        if name in clients and name not in runs:
            workdir = tmp_path_factory.mktemp(name)
            runs[name] = start_client(f"{name}.py", workdir, *clients[name](workdir))
    yield runs
    for run in runs.values():
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
