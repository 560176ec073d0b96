"""`smlocal` and `smlocal api` on one job home: one job store, one validator, one stop.

A user runs `smlocal --home H ...` in a terminal next to a real `smlocal api` server on H (both
subprocesses, the fake algorithm as the process runner's command), and boto3 talks to the server.
"""
import json
import subprocess
import sys

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.functional.api.conftest import REPO, server_env, smlocal_cli, stream_messages, wait_for


def train_args(data_dir, name, *extra):
    return ["train", "--algorithm", "image-classification", "--job-name", name, "--channel", f"train={data_dir}",
            "--instance-type", "ml.m5.large", *extra]


def smlocal_refusal(env, home, *args) -> str:
    """What `smlocal` says when it refuses a request (stderr: "Error: <code>: <message>", exit 2)."""
    done = subprocess.run([sys.executable, "-m", "emulator.cli", "--home", str(home), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    return done.stderr.strip()


def test_a_job_started_with_smlocal_train_is_described_listed_and_logged_by_the_api(api, api_env, data_dir):
    lines = json.dumps(["Epoch[0] Validation-accuracy=0.625"])
    smlocal_cli(api.home, *train_args(data_dir, "from-the-cli", "--hp", f"lines={lines}"), env=api_env)
    sm, logs = api.client("sagemaker"), api.client("logs")
    described = sm.describe_training_job(TrainingJobName="from-the-cli")
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Completed", "Completed")
    assert described["FinalMetricDataList"][0]["MetricName"] == "validation:accuracy"
    assert described["ModelArtifacts"]["S3ModelArtifacts"].endswith("/from-the-cli/output/model.tar.gz")
    assert described["AlgorithmSpecification"]["MetricDefinitions"]  # the built-in's, as for API jobs
    listed = sm.list_training_jobs()["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in listed] == ["from-the-cli"]
    assert "Epoch[0] Validation-accuracy=0.625" in stream_messages(logs, "from-the-cli")
    assert any(m.startswith("[smlocal] Runner: process") for m in stream_messages(logs, "from-the-cli"))


def test_a_job_created_through_the_api_is_listed_and_described_by_smlocal(api, api_env, job_request):
    sm = api.client("sagemaker")
    sm.create_training_job(**job_request("from-the-api"))
    wait_for(sm, "from-the-api")
    assert "Completed" in smlocal_cli(api.home, "list", env=api_env).split("from-the-api")[0].splitlines()[-1]
    described = json.loads(smlocal_cli(api.home, "describe", "from-the-api", env=api_env))
    answered = sm.describe_training_job(TrainingJobName="from-the-api")
    del answered["ResponseMetadata"]
    assert set(described) == set(answered)  # one Describe for both front ends
    for member in ("TrainingJobArn", "TrainingJobStatus", "HyperParameters", "ModelArtifacts", "FinalMetricDataList"):
        assert described.get(member) == answered.get(member), member


def test_stop_training_job_stops_a_job_that_smlocal_train_runs(api, api_env, data_dir):
    cli = subprocess.Popen([sys.executable, "-m", "emulator.cli", "--home", str(api.home),
                            *train_args(data_dir, "stop-me", "--hp", "sleep=60", "--hp", 'lines=["ready"]',
                                        "--stop-grace", "10")],
                           cwd=REPO, env=api_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in cli.stdout:
            if line.strip() == "ready":  # the algorithm's SIGTERM handler is in place
                break
        sm = api.client("sagemaker")
        assert sm.describe_training_job(TrainingJobName="stop-me")["SecondaryStatus"] == "Training"
        sm.stop_training_job(TrainingJobName="stop-me")
        out, _ = cli.communicate(timeout=60)
    finally:
        cli.kill()
    assert cli.returncode == 0 and "Training job stop-me: Stopped (Stopped)" in out
    stopped = sm.describe_training_job(TrainingJobName="stop-me")
    assert stopped["TrainingJobStatus"] == "Stopped"
    assert [t["Status"] for t in stopped["SecondaryStatusTransitions"]][-3:] == ["Stopping", "Uploading", "Stopped"]


@pytest.mark.parametrize("flags, member", [
    (["--job-name", "a" * 64], "trainingJobName"),                                   # longer than the model allows
    (["--job-name", "bad-enum", "--instance-type", "ml.nope.large"], "resourceConfig.instanceType"),  # unknown enum
    (["--job-name", "bad-mode", "--input-mode", "Stream"], "algorithmSpecification.trainingInputMode"),
])
def test_the_cli_and_the_api_refuse_the_same_request_with_the_same_message(api, api_env, tmp_path, data_dir, flags,
                                                                          member):
    args = ["train", "--algorithm", "image-classification", "--channel", f"train={data_dir}", *flags]
    request = json.loads(smlocal_cli(tmp_path / "dry-home", *args, "--dry-run", env=api_env))
    with pytest.raises(ClientError) as refused:
        api.client("sagemaker").create_training_job(**request)
    error = refused.value.response["Error"]
    assert error["Message"].startswith("1 validation error detected: ") and f"at '{member}'" in error["Message"]
    assert smlocal_refusal(api_env, tmp_path / "cli-home", *args) == f"Error: {error['Code']}: {error['Message']}"
    assert api.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


def test_describe_stop_and_delete_refuse_a_bad_name_as_the_api_does(api, api_env):
    name = "b" * 64
    with pytest.raises(ClientError) as refused:
        api.client("sagemaker").describe_training_job(TrainingJobName=name)
    error = refused.value.response["Error"]
    for command in ("describe", "stop", "delete"):
        assert smlocal_refusal(api_env, api.home, command, name) == f"Error: {error['Code']}: {error['Message']}"


def test_api_takes_its_credentials_and_extra_host_names_from_the_command_line(make_server):
    server = make_server("--runner", "process", "--access-key", "AKIDCLI", "--secret-key", "cli-secret",
                         "--allow-host", "smlocal.internal", env=server_env())  # no credentials in its environment

    def client(key, secret):
        return boto3.client("sagemaker", endpoint_url=server.endpoint, region_name="us-east-1",
                            aws_access_key_id=key, aws_secret_access_key=secret,
                            config=Config(retries={"max_attempts": 1}))

    assert client("AKIDCLI", "cli-secret").list_training_jobs()["TrainingJobSummaries"] == []
    with pytest.raises(ClientError) as refused:
        client("AKIDCLI", "wrong-secret").list_training_jobs()
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert requests.get(server.endpoint, headers={"Host": f"smlocal.internal:{server.port}"}, timeout=5).ok
    assert requests.get(server.endpoint, headers={"Host": "elsewhere.example"}, timeout=5).status_code == 403
