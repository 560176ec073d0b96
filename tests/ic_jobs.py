"""Image-classification jobs run by the emulator (process runner, real algorithm): tiny data,
CreateTrainingJob requests, running in the background, and scoring the model a job produced."""
from __future__ import annotations

import json
import shutil
import tarfile
import threading
import time
from pathlib import Path

import cv2
import mxnet as mx
import numpy as np

from emulator.jobhome import JobHome
from emulator.lifecycle import TrainingJob
from emulator.runners.process import ProcessRunner
from emulator.sample_data import make_classification_set
from emulator.spec import TrainingJobSpec

NUM_CLASSES = 4
RECORDIO = "application/x-recordio"


def make_data(root: Path, shards: int = 4, per_class_per_shard: int = 8, validation_per_class: int = 8) -> dict:
    """Training data as `shards` .rec files (each balanced over the classes) plus one .rec with
    all of it; validation as one .rec with its images and .lst."""
    shard_dir = root / "train-shards"
    shard_dir.mkdir(parents=True)
    parts = []
    for i in range(shards):
        part = make_classification_set(root / f"part-{i}", NUM_CLASSES, per_class_per_shard, size=(32, 32), seed=10 + i)
        shutil.copy(part["rec"], shard_dir / f"part-{i}.rec")
        parts.append(part)
    whole = root / "train-whole"
    whole.mkdir()
    with open(whole / "train.rec", "wb") as out:
        for part in parts:
            out.write(part["rec"].read_bytes())
    validation = make_classification_set(root / "validation", NUM_CLASSES, validation_per_class, size=(32, 32), seed=2)
    return {"shards": shard_dir, "train_rec": whole / "train.rec", "parts": parts,
            "train_count": shards * per_class_per_shard * NUM_CLASSES, "validation": validation}


def channel(name: str, uri, mode: str = "File", distribution: str = "FullyReplicated",
            content_type: str | None = RECORDIO, data_type: str = "S3Prefix", **members) -> dict:
    source = {"S3DataType": data_type, "S3Uri": str(uri), "S3DataDistributionType": distribution}
    source.update(members.pop("source", {}))
    spec = {"ChannelName": name, "InputMode": mode, "DataSource": {"S3DataSource": source}, **members}
    if content_type:
        spec["ContentType"] = content_type
    return spec


def request(name: str, channels: list[dict], output: Path, instance_count: int = 1, **hyperparameters) -> dict:
    hp = {"num_layers": 18, "num_classes": NUM_CLASSES, "num_training_samples": 128, "image_shape": "3,28,28",
          "mini_batch_size": 16, "epochs": 2, "learning_rate": 0.05, **hyperparameters}
    return {
        "TrainingJobName": name, "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "AlgorithmSpecification": {"TrainingInputMode": "File", "AlgorithmName": "image-classification"},
        "OutputDataConfig": {"S3OutputPath": str(output)},
        "ResourceConfig": {"InstanceType": "local", "InstanceCount": instance_count, "VolumeSizeInGB": 1},
        "HyperParameters": {k: str(v) for k, v in hp.items() if v is not None},
        "InputDataConfig": channels,
    }


def submit(body: dict, home: Path, **options) -> TrainingJob:
    options.setdefault("stop_grace_seconds", 60)
    return TrainingJob.submit(TrainingJobSpec.from_request(body), JobHome(home), ProcessRunner(), **options)


def run(body: dict, home: Path, **options) -> TrainingJob:
    job = submit(body, home, **options)
    job.run()
    return job


class Background:
    """A job running in a thread, for tests that stop it or watch its log."""

    def __init__(self, job: TrainingJob) -> None:
        self.job = job
        self.thread = threading.Thread(target=job.run, daemon=True)
        self.thread.start()

    def log(self) -> str:
        path = self.job.dir.root / "job.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for_log(self, needle: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.thread.is_alive():
            if needle in self.log():
                return True
            time.sleep(0.2)
        return needle in self.log()

    def join(self, timeout: float) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()


def host_log(job: TrainingJob, host: str) -> str:
    text = (job.dir.root / "job.log").read_text(errors="replace")
    return "\n".join(line for line in text.splitlines() if f" [{host}] " in line)


def model_files(result) -> list[str]:
    with tarfile.open(result.model_artifacts) as tar:
        return sorted(m.name for m in tar.getmembers() if m.isfile())


def accuracy(model_tar: str | Path, validation: dict, work: Path) -> float:
    """Top-1 accuracy of a job's model.tar.gz on the validation images, through the Module API
    and the documented preprocessing (what users' inference code does)."""
    from algorithms.image_classification.preprocess import Preprocessing

    target = work / f"model-{time.monotonic_ns()}"
    target.mkdir(parents=True)
    with tarfile.open(model_tar) as tar:
        tar.extractall(target)
    params = sorted(target.glob("image-classification-*.params"))
    epoch = int(params[-1].stem.rsplit("-", 1)[1])
    module = mx.mod.Module.load(str(target / "image-classification"), epoch)
    module.bind(data_shapes=[("data", (1, 3, 28, 28))], for_training=False)
    pre = Preprocessing((3, 28, 28))
    rows = [line.split("\t") for line in validation["lst"].read_text().splitlines() if line]
    correct = 0
    for _, label, rel in rows:
        image = cv2.cvtColor(cv2.imread(str(validation["images"] / rel)), cv2.COLOR_BGR2RGB)
        module.forward(mx.io.DataBatch([mx.nd.array(pre.to_input(image))]), is_train=False)
        correct += int(np.argmax(module.get_outputs()[0].asnumpy()[0]) == int(float(label)))
    return correct / len(rows)


def processes_of(job_dir: Path) -> dict[int, dict[str, str]]:
    """Live processes started for a job (their SAGEMAKER_BASE_DIR lies in its folder): pid ->
    the variables that tell them apart (SAGEMAKER_BASE_DIR, DMLC_ROLE)."""
    marker = f"SAGEMAKER_BASE_DIR={job_dir}".encode()
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if state != "Z" and any(item.startswith(marker) for item in environ):
            variables = dict(item.decode(errors="replace").split("=", 1) for item in environ if b"=" in item)
            found[int(proc.name)] = {k: variables.get(k, "") for k in ("SAGEMAKER_BASE_DIR", "DMLC_ROLE")}
    return found


def launcher_pid(job: TrainingJob, host: str) -> int:
    """The host's main process (the container's entry, which launches the rest)."""
    base = str(job.dir.host_base(host))
    return next(pid for pid, env in processes_of(job.dir.root).items()
                if env["SAGEMAKER_BASE_DIR"] == base and not env["DMLC_ROLE"])


def manifest(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path
