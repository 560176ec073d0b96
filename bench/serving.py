"""Serving benchmark: /invocations through the real server next to the same model in-process.

For each model (random weights written by the algorithms' own export code) it measures
- the direct forward pass (network only, on the preprocessed image) and the direct predict
  (decode + preprocessing + forward + response encoding), in this process with one MXNet/OpenMP
  thread;
- `python -m container serve` on a loopback port: one worker with one thread (the same compute
  as the direct pass), one worker per CPU with one thread each (the server's default), and one
  worker with every CPU's threads, driven by as many client threads as workers, each with a
  keep-alive session;
and prints p50/p99 latency, requests/s and the ratios: server p50 / direct p50 (the server's
overhead), and N-worker throughput / one-worker throughput (scaling).

    python bench/serving.py [--algorithms ic18,ic50,od,ss] [--seconds 20]
"""
from __future__ import annotations

import argparse
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


def timed(func, seconds: float, least: int = 5) -> list[float]:
    func()  # warm-up
    times, end = [], time.monotonic() + seconds
    while time.monotonic() < end or len(times) < least:
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return times


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(base: Path, algorithm: str, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "SAGEMAKER_ALGORITHM": algorithm, "SAGEMAKER_BASE_DIR": str(base),
           "SAGEMAKER_BIND_TO_PORT": str(port), "SMLOCAL_SERVE_HOST": "127.0.0.1",
           "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers), "OMP_NUM_THREADS": str(threads),
           "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-m", "container", "serve"], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                return process, url
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server for {algorithm} did not become healthy")


def load_server(url: str, image: bytes, clients: int, seconds: float) -> tuple[list[float], float]:
    """`clients` threads, each with a keep-alive session, for `seconds`: latencies and req/s."""
    latencies: list[float] = []
    lock = threading.Lock()
    # Every worker loads its model and warms up on its own: one request per client first.
    with requests.Session() as session:
        for _ in range(clients * 2):
            session.post(f"{url}/invocations", data=image, headers={"Content-Type": "image/jpeg"}, timeout=300)

    def client(end: float) -> None:
        mine = []
        with requests.Session() as session:
            while time.monotonic() < end:
                start = time.perf_counter()
                response = session.post(f"{url}/invocations", data=image, headers={"Content-Type": "image/jpeg"},
                                        timeout=300)
                mine.append(time.perf_counter() - start)
                assert response.status_code == 200, response.text
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(started + seconds,)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, len(latencies) / (time.monotonic() - started)


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(120)


def bench_case(name: str, seconds: float, work: Path) -> list[str]:
    algorithm, build, size = CASES[name]
    base = work / name
    build(base / "model")
    image = encode(class_image(1, 4, size, np.random.RandomState(0)))
    from container.registry import load_serve

    predictor = load_serve(algorithm)(base / "model")
    from algorithms.common.inference import decode_image
    if algorithm == "semantic-segmentation":
        import io

        from algorithms.semantic_segmentation.preprocess import read_image
        data = predictor.network_input(read_image(io.BytesIO(image)))
    else:
        data = predictor.network_input(decode_image(image))
    forward = percentiles(timed(lambda: predictor.forward(data), seconds / 2))
    predict = percentiles(timed(lambda: predictor.predict(image, "image/jpeg", None), seconds / 2))
    del predictor
    rows = [f"{name:5} direct forward            p50 {forward[0]:8.1f} ms  p99 {forward[1]:8.1f} ms",
            f"{name:5} direct predict            p50 {predict[0]:8.1f} ms  p99 {predict[1]:8.1f} ms  "
            f"(decode+preprocess+encode {predict[0] - forward[0]:+.1f} ms)"]
    throughput = {}
    for label, workers, threads in [("1 worker x 1 thread", 1, 1), (f"{CPUS} workers x 1 thread", CPUS, 1),
                                    (f"1 worker x {CPUS} threads", 1, CPUS)]:
        process, url = start_server(base, algorithm, workers, threads)
        try:
            latencies, rate = load_server(url, image, workers, seconds)
        finally:
            stop(process)
        p50, p99 = percentiles(latencies)
        throughput[(workers, threads)] = rate
        ratio = (f"p50 / direct forward {p50 / forward[0]:.3f}, / direct predict {p50 / predict[0]:.3f}"
                 if (workers, threads) == (1, 1) else "")
        rows.append(f"{name:5} server {label:19} p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  {rate:7.2f} req/s  {ratio}")
    if CPUS > 1:
        scaling = throughput[(CPUS, 1)] / throughput[(1, 1)]
        rows.append(f"{name:5} scaling {CPUS} workers / 1 worker (1 thread each): {scaling:.2f}x "
                    f"(target >= {0.8 * CPUS:.1f}x)")
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
