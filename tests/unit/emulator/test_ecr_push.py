import base64
import subprocess
from pathlib import Path

import boto3
import docker.errors
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from emulator import ecr

ACCOUNT, REGION = "123456789012", "eu-west-1"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
REPO_ROOT = Path(__file__).resolve().parents[3]


class Untouchable:
    def __getattr__(self, name):
        raise AssertionError(f"dry run touched a client: {name}")


class FakeImage:
    def __init__(self, calls, name):
        self.calls, self.name = calls, name

    def tag(self, repository, tag):
        self.calls.append(("tag", self.name, repository, tag))
        return True


class FakeImages:
    def __init__(self, calls, existing, push_events):
        self.calls, self.existing, self.push_events = calls, existing, push_events

    def get(self, name):
        if name not in self.existing:
            raise docker.errors.ImageNotFound(name)
        return FakeImage(self.calls, name)

    def push(self, repository, tag, stream, decode, auth_config):
        self.calls.append(("push", repository, tag, auth_config))
        return iter(self.push_events)


class FakeDocker:
    def __init__(self, existing, push_events=({"status": "Pushed"},)):
        self.calls = []
        self.images = FakeImages(self.calls, existing, list(push_events))

    def login(self, username, password, registry):
        self.calls.append(("login", username, password, registry))


def stubbed_ecr(existing_repos=()):
    client = boto3.client("ecr", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(client)
    token = base64.b64encode(b"AWS:s3cret-password").decode()
    stub.add_response("get_authorization_token",
                      {"authorizationData": [{"authorizationToken": token, "proxyEndpoint": f"https://{REGISTRY}"}]},
                      {"registryIds": [ACCOUNT]})
    return client, stub, existing_repos


def test_dry_run_prints_every_step_and_touches_nothing():
    lines = []
    refs = ecr.push(["smlocal/image-classification:latest", "smlocal/object-detection"], ACCOUNT, REGION,
                    dry_run=True, echo=lines.append, ecr_client=Untouchable(), docker_client=Untouchable())
    assert refs == [f"{REGISTRY}/smlocal/image-classification:latest", f"{REGISTRY}/smlocal/object-detection:latest"]
    assert all(line.startswith("[dry-run] ") for line in lines)
    steps = [line.removeprefix("[dry-run] ") for line in lines]
    assert steps[0] == f"ecr get-authorization-token --registry-ids {ACCOUNT} --region {REGION}"
    assert steps[1] == f"docker login --username AWS --password-stdin https://{REGISTRY}"
    assert steps[2:5] == [
        "ecr create-repository --repository-name smlocal/image-classification (if missing)",
        f"docker tag smlocal/image-classification:latest {REGISTRY}/smlocal/image-classification:latest",
        f"docker push {REGISTRY}/smlocal/image-classification:latest",
    ]
    assert steps[7] == f"docker push {REGISTRY}/smlocal/object-detection:latest"


def test_push_logs_in_with_the_ecr_token_creates_missing_repository_tags_and_pushes():
    client, stub, _ = stubbed_ecr()
    stub.add_client_error("describe_repositories", service_error_code="RepositoryNotFoundException",
                          expected_params={"registryId": ACCOUNT, "repositoryNames": ["smlocal/image-classification"]})
    stub.add_response("create_repository", {"repository": {"repositoryName": "smlocal/image-classification"}},
                      {"registryId": ACCOUNT, "repositoryName": "smlocal/image-classification"})
    fake = FakeDocker(existing={"smlocal/image-classification:latest"})
    with stub:
        refs = ecr.push(["smlocal/image-classification:latest"], ACCOUNT, REGION, echo=lambda _: None,
                        ecr_client=client, docker_client=fake)
        stub.assert_no_pending_responses()
    remote = f"{REGISTRY}/smlocal/image-classification"
    assert refs == [f"{remote}:latest"]
    credentials = {"username": "AWS", "password": "s3cret-password"}
    assert fake.calls == [
        ("login", "AWS", "s3cret-password", f"https://{REGISTRY}"),
        ("tag", "smlocal/image-classification:latest", remote, "latest"),
        ("push", remote, "latest", credentials),
    ]


def test_existing_repository_is_not_created_again():
    client, stub, _ = stubbed_ecr()
    stub.add_response("describe_repositories", {"repositories": [{"repositoryName": "smlocal/object-detection"}]})
    fake = FakeDocker(existing={"smlocal/object-detection:gpu"})
    with stub:
        ecr.push(["smlocal/object-detection:gpu"], ACCOUNT, REGION, echo=lambda _: None,
                 ecr_client=client, docker_client=fake)
        stub.assert_no_pending_responses()  # no create_repository was stubbed or called
    assert fake.calls[-1][0:3] == ("push", f"{REGISTRY}/smlocal/object-detection", "gpu")


def test_push_error_in_the_progress_stream_is_a_failure():
    client, stub, _ = stubbed_ecr()
    stub.add_response("describe_repositories", {"repositories": []})
    fake = FakeDocker(existing={"smlocal/image-classification:latest"},
                      push_events=[{"status": "Preparing", "id": "abc"}, {"error": "denied: not authorized"}])
    with stub, pytest.raises(ecr.PushError, match="denied: not authorized"):
        ecr.push(["smlocal/image-classification:latest"], ACCOUNT, REGION, echo=lambda _: None,
                 ecr_client=client, docker_client=fake)


def test_missing_local_image_fails_before_any_aws_call():
    fake = FakeDocker(existing=set())
    with pytest.raises(ecr.PushError, match="smlocal/semantic-segmentation:latest does not exist.*make build"):
        ecr.push(["smlocal/semantic-segmentation:latest"], ACCOUNT, REGION, echo=lambda _: None,
                 ecr_client=Untouchable(), docker_client=fake)
    assert fake.calls == []


@pytest.mark.parametrize("account,region,message", [
    ("12345", REGION, "ACCOUNT '12345' is not an AWS account id"),
    ("", REGION, "ACCOUNT '' is not an AWS account id"),
    (ACCOUNT, "Ireland", "REGION 'Ireland' is not an AWS region name"),
])
def test_bad_account_or_region_is_rejected(account, region, message):
    with pytest.raises(ecr.PushError, match=message):
        ecr.push(["smlocal/image-classification:latest"], account, region, dry_run=True, echo=lambda _: None)


def test_china_regions_use_their_own_domain():
    assert ecr.registry_host(ACCOUNT, "cn-north-1") == f"{ACCOUNT}.dkr.ecr.cn-north-1.amazonaws.com.cn"


def test_cli_dry_run():
    result = CliRunner().invoke(ecr.main, ["--account", ACCOUNT, "--region", REGION, "--dry-run",
                                           "smlocal/image-classification:latest"])
    assert result.exit_code == 0, result.output
    assert f"would push {REGISTRY}/smlocal/image-classification:latest" in result.output
    bad = CliRunner().invoke(ecr.main, ["--account", "1", "--region", REGION, "--dry-run", "x"])
    assert bad.exit_code != 0 and "not an AWS account id" in bad.output


def test_make_push_passes_account_region_tags_and_dry_run():
    out = subprocess.run(["make", "-n", "push", f"ACCOUNT={ACCOUNT}", f"REGION={REGION}", "DRY_RUN=1"],
                         cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    command = " ".join(line.strip(" \\\t") for line in out.splitlines())  # joins continuation lines
    assert "-m emulator.ecr" in command and "--dry-run" in command
    assert f'--account "{ACCOUNT}"' in command and f'--region "{REGION}"' in command
    for algo in ("image-classification", "object-detection", "semantic-segmentation"):
        assert f"smlocal/{algo}:latest" in command
    real = subprocess.run(["make", "-n", "push", f"ACCOUNT={ACCOUNT}", f"REGION={REGION}"],
                          cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    assert "--dry-run" not in real
