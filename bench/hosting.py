"""Hosting benchmark: CreateEndpoint -> InService through a real `smlocal api`, process runner and Docker.

For each runner it starts `smlocal api --runner <runner>` on a loopback port (a job home of its
own), then several times: CreateModel + CreateEndpointConfig + CreateEndpoint for a model.tar.gz
of random weights written by the algorithm's own export code (the notebooks' instance type,
ml.m4.xlarge), DescribeEndpoint every 50 ms until InService, one InvokeEndpoint, DeleteEndpoint.
It prints the create -> InService time (median, min, max), the part of it between the server's
start and its first healthy /ping (from the endpoint's log), and the first invocation's latency.
Targets: <= 5 s with the process runner, <= 10 s with Docker (SageMaker's own deploy takes minutes).

    python bench/hosting.py [--algorithms ic18,od,ss] [--runners process,docker] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import boto3  # noqa: E402
import requests  # noqa: E402
from botocore.config import Config  # noqa: E402

from emulator.sample_data import class_image, encode  # noqa: E402
from tests.functional.serving import models  # noqa: E402

import numpy as np  # noqa: E402

CASES = {
    "ic18": ("image-classification", lambda d: models.image_classification(d, 18, (3, 224, 224), 1000)),
    "od": ("object-detection", lambda d: models.object_detection(d, 300, 20)),
    "ss": ("semantic-segmentation", lambda d: models.semantic_segmentation(d, "fcn", 21)),
}
IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/{algorithm}:1"
HEALTHY = re.compile(r"GET /ping answered 200 after ([0-9.]+) s")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Api:
    def __init__(self, root: Path, runner: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMLOCAL_"))}
        self.log = root / f"api-{runner}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "emulator.cli", "--home", str(root / f"home-{runner}"), "api", "--port",
                 str(self.port), "--runner", runner], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url, timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        session = boto3.session.Session(aws_access_key_id="bench", aws_secret_access_key="bench",
                                        region_name="us-east-1")
        config = Config(retries={"max_attempts": 1}, read_timeout=120)
        self.sm = session.client("sagemaker", endpoint_url=self.url, config=config)
        self.runtime = session.client("sagemaker-runtime", endpoint_url=self.url, config=config)
        self.logs = session.client("logs", endpoint_url=self.url, config=config)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def packed(folder: Path, target: Path) -> Path:
    with tarfile.open(target, "w:gz") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, arcname=path.name)
    return target


def one_deployment(api: Api, name: str, algorithm: str, model: Path, payload: bytes) -> dict:
    api.sm.create_model(ModelName=name, ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
                        PrimaryContainer={"Image": IMAGE.format(algorithm=algorithm), "ModelDataUrl": model.as_uri()})
    api.sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m4.xlarge"}])
    started = time.monotonic()
    api.sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    while True:
        status = api.sm.describe_endpoint(EndpointName=name)["EndpointStatus"]
        if status != "Creating":
            break
        time.sleep(0.05)
    in_service = time.monotonic() - started
    if status != "InService":
        raise RuntimeError(f"{name}: {api.sm.describe_endpoint(EndpointName=name).get('FailureReason')}")
    invoked = time.monotonic()
    api.runtime.invoke_endpoint(EndpointName=name, Body=payload, ContentType="image/jpeg")["Body"].read()
    first = time.monotonic() - invoked
    events = api.logs.filter_log_events(logGroupName=f"/aws/sagemaker/Endpoints/{name}")["events"]
    healthy = next((float(m.group(1)) for e in events for m in [HEALTHY.search(e["message"])] if m), float("nan"))
    api.sm.delete_endpoint(EndpointName=name)
    api.sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
    return {"in_service": in_service, "healthy": healthy, "first": first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algorithms", default="ic18")
    parser.add_argument("--runners", default="process,docker")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    payload = encode(class_image(1, 4, (256, 256), np.random.RandomState(0)))
    with tempfile.TemporaryDirectory(prefix="smlocal-bench-hosting-") as scratch:
        root = Path(scratch)
        archives = {}
        for case in args.algorithms.split(","):
            algorithm, build = CASES[case]
            archives[case] = (algorithm, packed(build(root / case / "model"), root / f"{case}.tar.gz"))
        print(f"{'runner':<8} {'model':<6} {'create->InService median (min-max)':>36} {'of it start->/ping 200':>24} "
              f"{'first invocation':>18}")
        for runner in args.runners.split(","):
            api = Api(root, runner)
            try:
                for case, (algorithm, archive) in archives.items():
                    runs = [one_deployment(api, f"bench-{case}-{i}", algorithm, archive, payload)
                            for i in range(args.repeat)]
                    times = [r["in_service"] for r in runs]
                    print(f"{runner:<8} {case:<6} {statistics.median(times):>20.2f} s ({min(times):.2f}-"
                          f"{max(times):.2f} s) {statistics.median(r['healthy'] for r in runs):>22.2f} s "
                          f"{statistics.median(r['first'] for r in runs) * 1000:>15.0f} ms", flush=True)
            finally:
                api.stop()


if __name__ == "__main__":
    main()
