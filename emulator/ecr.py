"""Push the training images to Amazon ECR, so real SageMaker jobs can run the same image.

    python -m emulator.ecr --account 123456789012 --region eu-west-1 smlocal/image-classification:latest
    (or: make push ACCOUNT=123456789012 REGION=eu-west-1 [DRY_RUN=1])

Steps per run: an ECR authorization token through boto3 (the usual AWS credential chain), a
`docker login` to the account's registry with it, then per image: create the repository if it
does not exist, tag the local image with the registry's name, push. `--dry-run` prints every
step with the exact names and touches neither AWS nor Docker.
"""
from __future__ import annotations

import base64
import re
import sys
from dataclasses import dataclass
from typing import Callable

import click

ACCOUNT_PATTERN = re.compile(r"^\d{12}$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
Echo = Callable[[str], None]


class PushError(RuntimeError):
    pass


def registry_host(account: str, region: str) -> str:
    if not ACCOUNT_PATTERN.match(account or ""):
        raise PushError(f"ACCOUNT {account!r} is not an AWS account id (12 digits)")
    if not REGION_PATTERN.match(region or ""):
        raise PushError(f"REGION {region!r} is not an AWS region name (e.g. eu-west-1)")
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}"


@dataclass(frozen=True)
class PushTarget:
    local: str        # smlocal/image-classification:latest
    repository: str   # smlocal/image-classification (the ECR repository name)
    tag: str          # latest
    remote: str       # <account>.dkr.ecr.<region>.amazonaws.com/smlocal/image-classification

    @property
    def remote_ref(self) -> str:
        return f"{self.remote}:{self.tag}"


def push_target(local_image: str, registry: str) -> PushTarget:
    name, sep, tag = local_image.rpartition(":")
    if not sep or "/" in tag:  # no tag given ("repo" or "host:port/repo")
        name, tag = local_image, "latest"
    if not name:
        raise PushError(f"image {local_image!r} has no repository name")
    return PushTarget(local=f"{name}:{tag}", repository=name, tag=tag, remote=f"{registry}/{name}")


def decode_token(authorization_data: dict) -> tuple[str, str]:
    """ECR returns base64("AWS:<password>"); docker login needs the two halves."""
    user, _, password = base64.b64decode(authorization_data["authorizationToken"]).decode().partition(":")
    return user, password


def push(images: list[str], account: str, region: str, *, dry_run: bool = False, echo: Echo = click.echo,
         ecr_client=None, docker_client=None) -> list[str]:
    """Push each local image to ECR; returns the remote references. Clients are injectable for tests."""
    if not images:
        raise PushError("no images given")
    registry = registry_host(account, region)
    targets = [push_target(image, registry) for image in images]
    prefix = "[dry-run] " if dry_run else ""

    echo(f"{prefix}ecr get-authorization-token --registry-ids {account} --region {region}")
    echo(f"{prefix}docker login --username AWS --password-stdin https://{registry}")
    if dry_run:
        for target in targets:
            echo(f"{prefix}ecr create-repository --repository-name {target.repository} (if missing)")
            echo(f"{prefix}docker tag {target.local} {target.remote_ref}")
            echo(f"{prefix}docker push {target.remote_ref}")
        return [t.remote_ref for t in targets]

    ecr, docker_api = _clients(region, ecr_client, docker_client)
    for target in targets:  # fail before logging in when an image was never built
        _require_local_image(docker_api, target.local)
    auth = ecr.get_authorization_token(registryIds=[account])["authorizationData"][0]
    username, password = decode_token(auth)
    docker_api.login(username=username, password=password, registry=auth.get("proxyEndpoint", f"https://{registry}"))
    credentials = {"username": username, "password": password}
    for target in targets:
        _ensure_repository(ecr, account, target.repository, echo)
        echo(f"docker tag {target.local} {target.remote_ref}")
        docker_api.images.get(target.local).tag(target.remote, tag=target.tag)
        echo(f"docker push {target.remote_ref}")
        _push_one(docker_api, target, credentials, echo)
    return [t.remote_ref for t in targets]


def _clients(region: str, ecr_client, docker_client):
    if ecr_client is None:
        import boto3

        ecr_client = boto3.client("ecr", region_name=region)
    if docker_client is None:
        import docker

        docker_client = docker.from_env()
    return ecr_client, docker_client


def _require_local_image(docker_api, image: str) -> None:
    import docker.errors

    try:
        docker_api.images.get(image)
    except docker.errors.ImageNotFound:
        raise PushError(f"local image {image} does not exist; build it first (make build)") from None


def _ensure_repository(ecr, account: str, repository: str, echo: Echo) -> None:
    try:
        ecr.describe_repositories(registryId=account, repositoryNames=[repository])
    except ecr.exceptions.RepositoryNotFoundException:
        echo(f"ecr create-repository --repository-name {repository}")
        ecr.create_repository(registryId=account, repositoryName=repository)


def _push_one(docker_api, target: PushTarget, credentials: dict, echo: Echo) -> None:
    # The push API reports failures inside the progress stream, not as an exception.
    for event in docker_api.images.push(target.remote, tag=target.tag, stream=True, decode=True,
                                        auth_config=credentials):
        if "error" in event:
            raise PushError(f"push of {target.remote_ref} failed: {event['error']}")
        if event.get("status") and event.get("id") is None:
            echo(f"  {event['status']}")


@click.command(help="Push training images to Amazon ECR (AWS credentials from the usual boto3 chain).")
@click.option("--account", required=True, help="AWS account id (12 digits)")
@click.option("--region", required=True, help="AWS region, e.g. eu-west-1")
@click.option("--dry-run", is_flag=True, help="print every step without calling AWS or Docker")
@click.argument("images", nargs=-1, required=True)
def main(account: str, region: str, dry_run: bool, images: tuple[str, ...]) -> None:
    import botocore.exceptions
    import docker.errors

    try:
        refs = push(list(images), account, region, dry_run=dry_run)
    except (PushError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError,
            docker.errors.DockerException) as exc:
        raise click.ClickException(str(exc)) from exc
    for ref in refs:
        click.echo(("would push " if dry_run else "pushed ") + ref)


if __name__ == "__main__":
    sys.exit(main())
