"""`make demo`: the SageMaker incremental-training workflow, end to end on this machine.

1. generate a small labelled image data set (RecordIO, 10 classes),
2. job 1: image classification from scratch,
3. job 2: a new job whose `model` channel is job 1's model.tar.gz (--model-uri): it continues
   training from job 1's weights with another learning rate,
4. `smlocal serve` job 2's model.tar.gz and ask the endpoint for predictions of validation images,
   as a deployed model would be asked.

Everything runs through the `smlocal` CLI exactly as a user would type it.
"""
from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from emulator.sample_data import make_classification_set

ROOT = Path("demo-output")
CLASSES = 10
HYPERPARAMETERS = {  # the incremental-training guide's values, sized for a CPU
    "num_layers": "18", "image_shape": "3,28,28", "resize": "32", "num_classes": str(CLASSES),
    "mini_batch_size": "32", "learning_rate": "0.1", "lr_scheduler_step": "2", "lr_scheduler_factor": "0.1",
    "augmentation_type": "crop", "optimizer": "sgd", "momentum": "0.9", "weight_decay": "0.0001", "top_k": "3",
}


def smlocal(job_name: str, data: dict, epochs: int, extra: list[str], hp_overrides: dict | None = None) -> Path:
    hp = dict(HYPERPARAMETERS, epochs=str(epochs), num_training_samples=str(CLASSES * 64), **(hp_overrides or {}))
    command = [
        sys.executable, "-m", "emulator.cli", "--home", str(ROOT / "home"), "train", "--algorithm",
        "image-classification", "--job-name", job_name, "--output-path", str((ROOT / "output").resolve()),
        "--channel", f"train={data['train']['rec'].resolve()},content_type=application/x-recordio",
        "--channel", f"validation={data['validation']['rec'].resolve()},content_type=application/x-recordio",
        *[arg for key, value in hp.items() for arg in ("--hp", f"{key}={value}")], *extra,
    ]
    print("\n$ smlocal " + " ".join(shlex.quote(a) for a in command[3:]), flush=True)
    subprocess.run(command, check=True)
    return (ROOT / "output" / job_name / "output" / "model.tar.gz").resolve()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_and_predict(model: Path, images: Path, lst: Path) -> None:
    """Serve the model in the background, wait for /ping, send a few validation images."""
    port = free_port()
    command = [sys.executable, "-m", "emulator.cli", "serve", str(model), "--algorithm", "image-classification",
               "--port", str(port), "--runner", "process", "--workers", "1"]
    print("\n$ smlocal " + " ".join(shlex.quote(a) for a in command[3:]) + " &", flush=True)
    server = subprocess.Popen(command)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(url + "/ping", timeout=2).close()
                break
            except (urllib.error.URLError, OSError):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("The endpoint did not become healthy") from None
                time.sleep(0.5)
        correct = 0
        listed = [line.split("\t") for line in lst.read_text().splitlines()[:10]]
        for _, label, path in listed:
            request = urllib.request.Request(url + "/invocations", data=(images / path).read_bytes(),
                                             headers={"Content-Type": "image/jpeg"})
            with urllib.request.urlopen(request, timeout=30) as answer:
                probabilities = json.loads(answer.read())
            predicted = max(range(len(probabilities)), key=probabilities.__getitem__)
            correct += predicted == int(float(label))
            print(f"$ curl --data-binary @{path} -H 'Content-Type: image/jpeg' {url}/invocations"
                  f"  -> class {predicted} (p={probabilities[predicted]:.2f}), labelled {int(float(label))}")
        print(f"The endpoint classified {correct} of {len(listed)} validation images correctly.")
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> int:
    ROOT.mkdir(exist_ok=True)
    print("Generating a small labelled image data set (10 classes, RecordIO)...", flush=True)
    data = {
        "train": make_classification_set(ROOT / "data" / "train", CLASSES, 64, size=(32, 32), seed=1),
        "validation": make_classification_set(ROOT / "data" / "validation", CLASSES, 16, size=(32, 32), seed=2),
    }
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S")
    first = smlocal(f"demo-ic-base-{stamp}", data, epochs=3, extra=[])
    print(f"\nJob 1 wrote {first}", flush=True)
    second = smlocal(f"demo-ic-incremental-{stamp}", data, epochs=2, extra=["--model-uri", str(first)],
                     hp_overrides={"learning_rate": "0.01", "lr_scheduler_step": ""})
    print(f"\nIncremental job 2 warm-started from job 1 and wrote {second}")
    serve_and_predict(second, data["validation"]["images"], data["validation"]["lst"])
    print(f"Job directories and logs: {(ROOT / 'home' / 'jobs').resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
