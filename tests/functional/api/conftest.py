"""A real `smlocal api` server (gunicorn, subprocess) on a free loopback port, and boto3 clients for it.

Jobs run the emulator's fake algorithm through the process runner unless a test asks for
another server. Every response the clients receive is checked against botocore's model, and a
test fails if any response broke it.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from tests.api_model import ResponseChecker

REPO = Path(__file__).resolve().parents[3]
FAKE_ALGORITHM = REPO / "tests" / "functional" / "emulator" / "fake_algorithm.py"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IC_IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
ACCESS_KEY, SECRET_KEY = "test", "test"
# What makes the server check signatures (emulator.api.sigv4); never inherited from the shell.
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    """Direct children of a process (from /proc: field 4 of /proc/<pid>/stat is the parent)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@dataclass
class ApiServer:
    home: Path
    port: int
    args: list[str]
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    checker: ResponseChecker = field(default_factory=ResponseChecker)
    clients: list = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ApiServer":
        self.log_path = self.home.parent / f"server-{self.port}-{int(time.time() * 1000)}.log"
        self.home.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "emulator.cli", "--home", str(self.home), "api", "--port", str(self.port),
                   "--threads", "4", *self.args]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"smlocal api exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.endpoint, timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"smlocal api did not answer within 30 s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> int:
        for client in self.clients:
            client.close()  # no idle keep-alive connection for the server to wait out
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        os.killpg(self.proc.pid, sig)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def kill_server_only(self) -> None:
        """SIGKILL gunicorn's master and worker (not the jobs' processes): a crash."""
        for pid in [self.proc.pid, *children(self.proc.pid)]:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()

    def client(self, service: str):
        session = boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                                        region_name="us-east-1")
        client = session.client(service, endpoint_url=self.endpoint,
                                config=Config(retries={"max_attempts": 1}, read_timeout=30))
        self.checker.attach(client)
        self.clients.append(client)
        return client


def server_env(**extra: str) -> dict[str, str]:
    """The server's environment: the fake algorithm, and credentials only where `extra` gives them."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_ENDPOINT_URL") and k not in CREDENTIAL_VARIABLES}
    env.update({"SMLOCAL_PROCESS_COMMAND": f"{sys.executable} {FAKE_ALGORITHM}", "AWS_REGION": "us-east-1",
                "PYTHONUNBUFFERED": "1", **extra})
    return env


@pytest.fixture
def api_env():
    # The server checks signatures with the keys the clients sign with, so every operation and
    # paginator of the suite also proves that botocore's signatures verify.
    return server_env(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)


@pytest.fixture
def make_server(tmp_path, api_env):
    """make_server(*cli_args, home=...) -> a started ApiServer; all are stopped after the test."""
    servers: list[ApiServer] = []

    def make(*args: str, home: Path | None = None, env: dict | None = None) -> ApiServer:
        server = ApiServer(home or tmp_path / "home", free_port(), ["--stop-grace", "5", *args], env or api_env)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()
    violations = [v for s in servers for v in s.checker.violations]
    assert not violations, "responses that break botocore's model:\n" + "\n".join(violations)


@pytest.fixture
def api(make_server):
    return make_server("--runner", "process")


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "data" / "train"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    return folder


@pytest.fixture
def job_request(tmp_path, data_dir):
    def build(name: str, hyperparameters: dict | None = None, **members) -> dict:
        request = {
            "TrainingJobName": name, "RoleArn": ROLE,
            "AlgorithmSpecification": {"TrainingImage": IC_IMAGE, "TrainingInputMode": "File"},
            "HyperParameters": {k: v if isinstance(v, str) else json.dumps(v)
                                for k, v in (hyperparameters or {}).items()},
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": data_dir.as_uri()}}}],
            "OutputDataConfig": {"S3OutputPath": (tmp_path / "output").as_uri()},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        }
        request.update(members)
        return request
    return build


def wait_for(client, name: str, statuses=("Completed", "Failed", "Stopped"), timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        description = client.describe_training_job(TrainingJobName=name)
        if description["TrainingJobStatus"] in statuses or description["SecondaryStatus"] in statuses:
            return description
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} still {description['TrainingJobStatus']}/{description['SecondaryStatus']} "
                                 f"after {timeout} s")
        time.sleep(0.1)


def smlocal_cli(home: Path, *args: str, env: dict | None = None) -> str:
    """`smlocal --home HOME ARGS...` as a user runs it next to the server; its standard output."""
    done = subprocess.run([sys.executable, "-m", "emulator.cli", "--home", str(home), *args], cwd=REPO,
                          env=env or server_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def stream_messages(logs, job: str, host: str = "algo-1") -> list[str]:
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{job}/{host}-")["logStreams"]
    assert len(streams) == 1, streams
    events = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=streams[0]["logStreamName"],
                                 startFromHead=True)["events"]
    return [e["message"] for e in events]


# ---- one API server, one data set and one trained model for the SDK tests (session-wide) ----------
# The S3 server is the session's SeaweedFS (tests/s3_fixtures.py).

SDK_NUM_CLASSES, SDK_PER_CLASS = 4, 16


@pytest.fixture(scope="session")
def sdk_api(s3_server, tmp_path_factory):
    """One `smlocal api` for the SDK tests: the real built-in algorithms with the runner `auto` picks,
    and SeaweedFS's keys in its environment, which are also the SDKs', so it checks their signatures."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "SMLOCAL_PROCESS_COMMAND", "SMLOCAL_SERVE_COMMAND"))}
    env.update(s3_server.env())
    server = ApiServer(tmp_path_factory.mktemp("sdk-api") / "home", free_port(), ["--stop-grace", "10"], env).start()
    yield server
    server.stop()
    assert not server.checker.violations, "responses that break botocore's model:\n" + "\n".join(
        server.checker.violations)


@pytest.fixture(scope="session")
def sdk_data(s3_server, tmp_path_factory) -> tuple[str, str]:
    """A bucket holding a tiny image-classification set, `<prefix>/train/` and `<prefix>/validation/`
    (RecordIO, 32x32 images): (bucket, prefix)."""
    from emulator.sample_data import make_classification_set

    s3, bucket, prefix = s3_server.client(), f"sdk-{uuid.uuid4().hex[:12]}", "ic"
    s3.create_bucket(Bucket=bucket)
    folder = tmp_path_factory.mktemp("sdk-data")
    for channel, count, seed in (("train", SDK_PER_CLASS, 1), ("validation", SDK_PER_CLASS // 4, 2)):
        data = make_classification_set(folder / channel, SDK_NUM_CLASSES, count, size=(32, 32), seed=seed)
        s3.upload_file(str(data["rec"]), bucket, f"{prefix}/{channel}/{channel}.rec")
    return bucket, prefix


@dataclass(frozen=True)
class TrainedModel:
    job: str
    model_data: str   # the S3 URI of its model.tar.gz


@pytest.fixture(scope="session")
def trained_ic_model(sdk_api, sdk_data) -> TrainedModel:
    """An image-classification job trained once (1 epoch) through boto3, and its model.tar.gz."""
    bucket, prefix = sdk_data
    sm = sdk_api.client("sagemaker")
    name = f"ic-model-{uuid.uuid4().hex[:8]}"
    channels = [{"ChannelName": channel, "ContentType": "application/x-recordio", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{prefix}/{channel}/"}}} for channel in ("train", "validation")]
    sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE, InputDataConfig=channels,
        AlgorithmSpecification={"TrainingImage": IC_IMAGE, "TrainingInputMode": "File"},
        HyperParameters={"num_layers": "18", "image_shape": "3,28,28", "num_classes": str(SDK_NUM_CLASSES),
                         "num_training_samples": str(SDK_NUM_CLASSES * SDK_PER_CLASS), "mini_batch_size": "16",
                         "epochs": "1"},
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/{prefix}/model-output"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 1800})
    description = wait_for(sm, name, timeout=600)
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    return TrainedModel(name, description["ModelArtifacts"]["S3ModelArtifacts"])
