"""Build a SageMaker /opt/ml tree in a tmp dir and run the image's training entry on it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class JobTree:
    base: Path

    @property
    def model(self) -> Path:
        return self.base / "model"

    @property
    def failure(self) -> str | None:
        path = self.base / "output" / "failure"
        return path.read_text().strip() if path.exists() else None

    def channel(self, name: str) -> Path:
        return self.base / "input" / "data" / name


def make_tree(base: Path, hyperparameters: dict, channels: dict[str, dict], checkpoint: Path | None = None) -> JobTree:
    """channels: name -> {"files": [paths or dirs to copy], "content_type": str|None, "mode": "File"}."""
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps({k: str(v) for k, v in hyperparameters.items()}))
    data_config = {}
    for name, spec in channels.items():
        target = base / "input" / "data" / name
        target.mkdir(parents=True, exist_ok=True)
        for src in spec.get("files", []):
            src = Path(src)
            if src.is_dir():
                shutil.copytree(src, target / src.name, dirs_exist_ok=True)
            else:
                shutil.copy(src, target / spec.get("rename", {}).get(src.name, src.name))
        entry = {"TrainingInputMode": spec.get("mode", "File"), "S3DistributionType": "FullyReplicated",
                 "RecordWrapperType": "None"}
        if spec.get("content_type"):
            entry["ContentType"] = spec["content_type"]
        data_config[name] = entry
    (config / "inputdataconfig.json").write_text(json.dumps(data_config))
    (config / "resourceconfig.json").write_text(json.dumps(
        {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}))
    if checkpoint is not None:
        (config / "checkpointconfig.json").write_text(json.dumps({"LocalPath": str(checkpoint)}))
    return JobTree(base)


def run_in_process(tree: JobTree, algorithm: str) -> int:
    from container.entry import train

    return train({"SAGEMAKER_BASE_DIR": str(tree.base), "SAGEMAKER_ALGORITHM": algorithm})


def start_subprocess(tree: JobTree, algorithm: str, extra_env: dict | None = None) -> subprocess.Popen:
    env = dict(os.environ, SAGEMAKER_BASE_DIR=str(tree.base), SAGEMAKER_ALGORITHM=algorithm,
               PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", **(extra_env or {}))
    return subprocess.Popen([sys.executable, "-m", "container", "train"], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


# ---- what the algorithms' functional tests share ------------------------------------------------

def rec_channels(data: dict, model_tar: Path | None = None) -> dict:
    """`train` and `validation` as the .rec files of `data[...]["rec"]`, plus a `model` channel."""
    channels = {name: {"files": [data[name]["rec"]], "content_type": "application/x-recordio"}
                for name in ("train", "validation")}
    if model_tar is not None:
        channels["model"] = {"files": [model_tar], "content_type": "application/x-sagemaker-model"}
    return channels


def tar_model(model_dir: Path, target: Path, compresslevel: int = 9) -> Path:
    """An earlier job's /opt/ml/model as the model.tar.gz SageMaker would pass on."""
    import tarfile

    with tarfile.open(target, "w:gz", compresslevel=compresslevel) as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return target


def run_subprocess(tree: JobTree, algorithm: str, timeout: float = 600, extra_env: dict | None = None):
    """`python -m container train` on the tree: (exit code, log text)."""
    process = start_subprocess(tree, algorithm, extra_env)
    log, _ = process.communicate(timeout=timeout)
    return process.returncode, log


def in_process_runner(root: Path, algorithm: str):
    """run(hp, channels, checkpoint=None) -> (exit code, JobTree): one job in-process per call."""
    counter = iter(range(100))

    def run(hp, channels, checkpoint=None):
        tree = make_tree(root / f"job{next(counter)}", hp, channels, checkpoint)
        return run_in_process(tree, algorithm), tree

    return run
