"""Serving benchmark: /invocations through the real server next to the same model in-process.

For each model (random weights written by the algorithms' own export code) it measures
- the direct forward pass (network only, on the preprocessed image) and the direct predict
  (decode + preprocessing + forward + response encoding), in this process with one MXNet/OpenMP
  thread;
- `python -m container serve` on a loopback port with one worker and one thread (the same
  compute as the direct pass), requests from a keep-alive http.client connection;
- throughput of that server and of one with a worker per CPU (the server's default), each
  driven by as many keep-alive client threads as it has workers, and the workers' CPU time per
  request (on a shared machine other processes take cores from the N workers; equal CPU time
  per request means N idle cores would give N times the throughput);
and prints p50/p99 latency and the ratios: server p50 / direct p50 (the server's overhead) and
N-worker / one-worker requests per second (scaling).

    python bench/serving.py [--algorithms ic18,ic50,od,ss] [--seconds 20]
"""
from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CPUS = len(os.sched_getaffinity(0))
os.environ["OMP_NUM_THREADS"] = "1"  # the direct pass computes as one single-thread worker does

import numpy as np  # noqa: E402
import requests  # noqa: E402

from emulator.sample_data import class_image, encode  # noqa: E402
from tests.functional.serving import models  # noqa: E402

# name: (algorithm, model builder, image height × width, request content type)
CASES = {
    "ic18": ("image-classification", lambda d: models.image_classification(d, 18, (3, 224, 224), 1000), (256, 256)),
    "ic50": ("image-classification", lambda d: models.image_classification(d, 50, (3, 224, 224), 1000), (256, 256)),
    "od": ("object-detection", lambda d: models.object_detection(d, 300, 20), (375, 500)),
    "ss": ("semantic-segmentation", lambda d: models.semantic_segmentation(d, "fcn", 21), (240, 320)),
}


def percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)) * 1000, float(np.percentile(values, 99)) * 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Endpoint:
    """`python -m container serve` with `workers` × `threads` on a loopback port."""

    def __init__(self, base: Path, algorithm: str, workers: int, threads: int) -> None:
        self.workers = workers
        port = free_port()
        env = {**os.environ, "SAGEMAKER_ALGORITHM": algorithm, "SAGEMAKER_BASE_DIR": str(base),
               "SAGEMAKER_BIND_TO_PORT": str(port), "SMLOCAL_SERVE_HOST": "127.0.0.1",
               "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers), "OMP_NUM_THREADS": str(threads),
               "PYTHONPATH": str(REPO)}
        self.log = base / f"server-{workers}x{threads}-{port}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "container", "serve"], cwd=REPO, env=env,
                                            stdout=log, stderr=subprocess.STDOUT)
        self.port = port
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or no worker free
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server for {algorithm} did not become healthy:\n{self.log.read_text()[-3000:]}")

    def connect(self) -> http.client.HTTPConnection:
        """A keep-alive client connection (it reconnects by itself when the server closes)."""
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)

    def post(self, connection: http.client.HTTPConnection, image: bytes) -> float:
        start = time.perf_counter()
        connection.request("POST", "/invocations", body=image, headers={"Content-Type": "image/jpeg"})
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        assert response.status == 200, body[:200]
        return elapsed

    def cpu_seconds(self) -> float:
        """User + system CPU time of the worker processes so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        pid = self.process.pid
        total = 0.0
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def load(self, image: bytes, seconds: float) -> tuple[int, float, float]:
        """One keep-alive client thread per worker for `seconds`: (requests answered, elapsed,
        worker CPU seconds used)."""
        counts = []

        def client(end: float) -> None:
            done, connection = 0, self.connect()
            while time.monotonic() < end:
                self.post(connection, image)
                done += 1
            connection.close()
            counts.append(done)

        cpu, started = self.cpu_seconds(), time.monotonic()
        threads = [threading.Thread(target=client, args=(started + seconds,)) for _ in range(self.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(counts), time.monotonic() - started, self.cpu_seconds() - cpu

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(120)


def bench_case(name: str, seconds: float, work: Path) -> list[str]:
    """The machine is shared, so what is compared is measured interleaved: direct forward, direct
    predict and a request to the one-thread server in turn; then the 1-worker and N-worker servers
    in alternating windows."""
    import io

    from algorithms.common.inference import decode_image
    from algorithms.semantic_segmentation.preprocess import read_image
    from container.registry import load_serve

    algorithm, build, size = CASES[name]
    base = work / name
    build(base / "model")
    image = encode(class_image(1, 4, size, np.random.RandomState(0)))
    predictor = load_serve(algorithm)(base / "model")
    if algorithm == "semantic-segmentation":
        data = predictor.network_input(read_image(io.BytesIO(image)))
    else:
        data = predictor.network_input(decode_image(image))
    single = Endpoint(base, algorithm, 1, 1)
    several = Endpoint(base, algorithm, CPUS, 1) if CPUS > 1 else None
    rows = []
    try:
        forward, predict, served = [], [], []
        connection = single.connect()
        for _ in range(2):  # warm-up
            predictor.predict(image, "image/jpeg", None)
            single.post(connection, image)
        end = time.monotonic() + seconds
        while time.monotonic() < end or len(served) < 5:
            start = time.perf_counter()
            predictor.forward(data)
            forward.append(time.perf_counter() - start)
            start = time.perf_counter()
            predictor.predict(image, "image/jpeg", None)
            predict.append(time.perf_counter() - start)
            served.append(single.post(connection, image))
        connection.close()
        (f50, f99), (d50, d99), (s50, s99) = percentiles(forward), percentiles(predict), percentiles(served)
        rows += [f"{name:5} direct forward           p50 {f50:8.1f} ms  p99 {f99:8.1f} ms",
                 f"{name:5} direct predict           p50 {d50:8.1f} ms  p99 {d99:8.1f} ms  "
                 f"(decode, preprocessing, encoding: {d50 - f50:+.1f} ms)",
                 f"{name:5} server, 1 worker x 1 thr p50 {s50:8.1f} ms  p99 {s99:8.1f} ms  "
                 f"p50 ratio to forward {s50 / f50:.3f} ({s50 - f50:+.1f} ms), to predict {s50 / d50:.3f} "
                 f"({s50 - d50:+.1f} ms)"]
        if several is not None:
            for _ in range(2):
                several.load(image, 1.0)  # every worker has answered (and warmed up) once
            totals = {1: np.zeros(3), CPUS: np.zeros(3)}
            for _ in range(4):
                for endpoint in (single, several):
                    totals[endpoint.workers] += endpoint.load(image, seconds / 4)
            rate = {workers: count / elapsed for workers, (count, elapsed, _) in totals.items()}
            cpu = {workers: used / count * 1000 for workers, (count, _, used) in totals.items()}
            rows.append(f"{name:5} throughput, 1 thread per worker: 1 worker {rate[1]:.2f} req/s, {CPUS} workers "
                        f"{rate[CPUS]:.2f} req/s: scaling {rate[CPUS] / rate[1]:.2f}x (target >= {0.8 * CPUS:.1f}x)")
            # Other processes on a shared machine take cores from the N workers; the worker CPU
            # time per request shows what N idle cores would give.
            rows.append(f"{name:5} worker CPU per request: 1 worker {cpu[1]:.1f} ms, {CPUS} workers {cpu[CPUS]:.1f} ms: "
                        f"scaling on idle cores {CPUS * cpu[1] / cpu[CPUS]:.2f}x")
    finally:
        single.stop()
        if several is not None:
            several.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithms", default="ic18,ic50,od,ss")
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time per configuration")
    args = parser.parse_args()
    print(f"serving benchmark: {CPUS} CPUs, load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="smlocal-bench-serving-") as work:
        for name in args.algorithms.split(","):
            for row in bench_case(name.strip(), args.seconds, Path(work)):
                print(row, flush=True)
            print(f"      (load average now {os.getloadavg()[0]:.2f})", flush=True)


if __name__ == "__main__":
    main()
