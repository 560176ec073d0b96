"""A new algorithm is one folder plus one line: linear_classifier/ declares itself through
AlgorithmSpec alone, and the installation's line is the environment (SMLOCAL_EXTRA_ALGORITHMS
names its spec module, SMLOCAL_ALGORITHM_MANIFESTS its manifest, generated here from the spec).
It then trains end to end through `smlocal train` and the API, incremental training included,
with the real `python -m container train` of the process runner.
"""
import json
import subprocess
import sys
import tarfile

import mxnet as mx
import numpy as np
import pytest
from botocore.exceptions import ClientError

from tests.functional.api.conftest import REPO, ROLE, ApiServer, free_port, server_env, wait_for
from tests.functional.fourth_algorithm.linear_classifier import spec as linear_classifier

SPEC = linear_classifier.SPEC

pytestmark = pytest.mark.slow  # MXNet starts in every job's process

NAME = "linear-classifier"
HYPERPARAMETERS = {"num_classes": "2", "feature_dim": "4", "epochs": "4"}


@pytest.fixture(scope="module")
def installation(tmp_path_factory):
    """The environment of an installation that adds the algorithm, and its training data."""
    root = tmp_path_factory.mktemp("fourth")
    manifest = root / "linear-classifier.json"
    manifest.write_text(json.dumps({NAME: SPEC.manifest()}))
    env = server_env(SMLOCAL_EXTRA_ALGORITHMS=linear_classifier.__name__,
                     SMLOCAL_ALGORITHM_MANIFESTS=str(manifest), AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    env.pop("SMLOCAL_PROCESS_COMMAND")  # the real `python -m container train`, not the emulator tests' fake
    data = root / "train"
    data.mkdir()
    rng = np.random.default_rng(0)
    writer = mx.recordio.MXRecordIO(str(data / "train.rec"), "w")
    for i in range(64):  # two classes, apart along the first feature
        label = i % 2
        features = rng.normal(size=4).astype(np.float32) + np.float32(3 * label - 1.5) * np.eye(4, dtype=np.float32)[0]
        writer.write(mx.recordio.pack(mx.recordio.IRHeader(0, float(label), i, 0), features.tobytes()))
    writer.close()
    return {"env": env, "data": data, "home": root / "home"}


def smlocal(installation, *args):
    return subprocess.run([sys.executable, "-m", "emulator.cli", "--home", str(installation["home"]), *args],
                          cwd=REPO, env=installation["env"], capture_output=True, text=True, timeout=300)


def model_meta(model_tar):
    with tarfile.open(model_tar) as tar:
        assert sorted(tar.getnames()) == ["linear-meta.json", "linear-weights.npy"]
        return json.loads(tar.extractfile("linear-meta.json").read())


def train_flags(installation, name, *extra):
    hps = [arg for key, value in HYPERPARAMETERS.items() for arg in ("--hp", f"{key}={value}")]
    return ["train", "--algorithm", NAME, "--job-name", name,
            "--channel", f"train={installation['data']},content_type=application/x-recordio", *hps, *extra]


@pytest.fixture(scope="module")
def first_model(installation):
    done = smlocal(installation, *train_flags(installation, "linear-first"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Starting from random." in done.stdout
    assert "Metric train:accuracy = " in done.stdout  # the spec's metric definitions, through the manifest
    model = installation["home"] / "output" / "linear-first" / "output" / "model.tar.gz"
    assert model_meta(model) == {"architecture": {"num_classes": 2, "feature_dim": 4}, "epochs_trained": 4}
    return model


def test_smlocal_train_runs_it_and_warm_starts_from_its_model(installation, first_model):
    done = smlocal(installation, *train_flags(installation, "linear-second", "--model-uri", str(first_model)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Starting from channel 'model'." in done.stdout
    second = installation["home"] / "output" / "linear-second" / "output" / "model.tar.gz"
    assert model_meta(second)["epochs_trained"] == 8  # four more epochs on top of the first job's four
    accuracies = [float(line.rsplit("=", 1)[1]) for line in done.stdout.splitlines() if "Train-accuracy=" in line]
    assert min(accuracies) >= 0.9  # it goes on from a trained model, not from zeros

    refused = smlocal(installation, *train_flags(installation, "linear-mismatch", "--model-uri", str(first_model),
                                                 "--hp", "num_classes=3"))
    assert refused.returncode == 1
    assert ("FailureReason: ClientError: Incompatible model in channel 'model': hyperparameter 'num_classes' is '3' "
            "in this job but the model was trained with '2'") in refused.stdout


@pytest.fixture
def api(installation):
    server = ApiServer(installation["home"], free_port(), ["--runner", "process", "--stop-grace", "5"],
                       installation["env"]).start()
    yield server
    server.stop()
    assert not server.checker.violations, server.checker.violations


def request(installation, name, algorithm, channels):
    return {"TrainingJobName": name, "RoleArn": ROLE, "AlgorithmSpecification": {**algorithm, "TrainingInputMode": "File"},
            "HyperParameters": HYPERPARAMETERS, "InputDataConfig": channels,
            "OutputDataConfig": {"S3OutputPath": (installation["home"] / "api-output").as_uri()},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}}


def channel(name, location, content_type):
    return {"ChannelName": name, "ContentType": content_type,
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": location.as_uri()}}}


def test_the_api_runs_it_by_name_and_by_image_and_warm_starts_from_a_cli_model(installation, first_model, api):
    sm = api.client("sagemaker")
    train = channel("train", installation["data"], "application/x-recordio")
    sm.create_training_job(**request(installation, "linear-api", {"AlgorithmName": NAME}, [train]))
    done = wait_for(sm, "linear-api", timeout=180)
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert done["AlgorithmSpecification"]["MetricDefinitions"] == [
        {"Name": m.name, "Regex": m.regex} for m in SPEC.metrics]
    assert done["FinalMetricDataList"][0]["MetricName"] == "train:accuracy"

    # As SageMaker's image URI of the algorithm, with the `smlocal train` job's model as channel 'model'.
    image = {"TrainingImage": f"811284229777.dkr.ecr.us-east-1.amazonaws.com/{NAME}:1"}
    model = channel("model", first_model, "application/x-sagemaker-model")
    sm.create_training_job(**request(installation, "linear-api-warm", image, [train, model]))
    warm = wait_for(sm, "linear-api-warm", timeout=180)
    assert warm["TrainingJobStatus"] == "Completed", warm.get("FailureReason")
    warm_model = installation["home"] / "api-output" / "linear-api-warm" / "output" / "model.tar.gz"
    assert model_meta(warm_model)["epochs_trained"] == 8

    # The spec says it trains on one instance: both front ends refuse two.
    two = request(installation, "linear-two", {"AlgorithmName": NAME}, [train])
    two["ResourceConfig"]["InstanceCount"] = 2
    with pytest.raises(ClientError, match="The linear-classifier algorithm supports single machine training only"):
        sm.create_training_job(**two)
    refused = smlocal(installation, *train_flags(installation, "linear-two", "--instance-count", "2"))
    assert refused.returncode == 2 and "supports single machine training only" in refused.stderr
