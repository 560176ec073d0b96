import sys
from pathlib import Path

import pytest

from emulator.jobhome import JobHome
from emulator.lifecycle import TrainingJob
from emulator.runners.process import ProcessRunner
from emulator.spec import TrainingJobSpec

FAKE_ALGORITHM = Path(__file__).with_name("fake_algorithm.py")


@pytest.fixture
def fake_command():
    """The process runner's command for the test-only fake algorithm."""
    return [sys.executable, str(FAKE_ALGORITHM)]


@pytest.fixture
def job_home(tmp_path):
    return JobHome(tmp_path / "home")


@pytest.fixture
def train_data(tmp_path):
    folder = tmp_path / "data" / "train"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b.txt").write_text("beta")
    return folder


@pytest.fixture
def make_request(tmp_path, train_data):
    def build(name="fake-job", hyperparameters=None, **members):
        request = {
            "TrainingJobName": name,
            "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
            "AlgorithmSpecification": {"TrainingInputMode": "File", "AlgorithmName": "image-classification"},
            "OutputDataConfig": {"S3OutputPath": str(tmp_path / "output")},
            "HyperParameters": {k: str(v) for k, v in (hyperparameters or {}).items()},
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": str(train_data)}}}],
        }
        request.update(members)
        return request
    return build


@pytest.fixture
def run_job(job_home, fake_command):
    """Submit and run a request with the fake algorithm; returns the finished TrainingJob."""
    def run(request, runner=None, **options):
        options.setdefault("stop_grace_seconds", 5)
        job = TrainingJob.submit(TrainingJobSpec.from_request(request), job_home,
                                 runner or ProcessRunner(fake_command), **options)
        job.run()
        return job
    return run
