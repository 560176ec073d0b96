"""Object-detection jobs run by the emulator (process runner, the real algorithm): CreateTrainingJob
requests, tiny data as the channels' files, and reading a job's log and model."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from emulator.sample_data import make_detection_set
from tests.functional.object_detection.conftest import NUM_CLASSES

ARTIFACTS = ["hyperparams.json", "model_algo_1-0000.params", "model_algo_1-symbol.json"]
MAP_LINE = re.compile(r"epoch=(\d+), validation mAP <score>=\((\S+)\)")


def od_request(name: str, channels: list[dict], output: Path, instance_count: int = 1, **hyperparameters) -> dict:
    """ResNet-50 SSD at 300 (≈ 2 images/s on this machine's CPU), 2 images per batch, 1 epoch."""
    hp = {"base_network": "resnet-50", "num_classes": NUM_CLASSES, "num_training_samples": 4, "mini_batch_size": 2,
          "epochs": 1, "image_shape": 300, **hyperparameters}
    return {
        "TrainingJobName": name, "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "AlgorithmSpecification": {"TrainingInputMode": "File", "AlgorithmName": "object-detection"},
        "OutputDataConfig": {"S3OutputPath": str(output)},
        "ResourceConfig": {"InstanceType": "local", "InstanceCount": instance_count, "VolumeSizeInGB": 1},
        "HyperParameters": {k: str(v) for k, v in hp.items() if v is not None},
        "InputDataConfig": channels,
    }


def detection_recs(root: Path, name: str, counts: list[int], seed: int) -> tuple[Path, list[dict]]:
    """A folder of .rec files (`part-<i>.rec` with counts[i] images each), for a channel's S3Uri;
    returns the folder and each part's sample set (images, annotations, objects)."""
    folder = root / name
    folder.mkdir(parents=True)
    parts = []
    for i, count in enumerate(counts):
        part = make_detection_set(root / f"{name}-sets" / str(i), NUM_CLASSES, count, seed=seed + i)
        shutil.copy(part["rec"], folder / f"part-{i}.rec")
        parts.append(part)
    return folder, parts


def object_count(parts: list[dict]) -> int:
    return sum(len(boxes) for part in parts for boxes in part["objects"].values())


def logged_maps(log: str) -> list[tuple[int, str]]:
    """(epoch, value as logged) of every validation mAP line."""
    return [(int(epoch), value) for epoch, value in MAP_LINE.findall(log)]


def manifest_line(image: Path, annotation: dict, attribute: str = "bbox") -> dict:
    """A Ground Truth bounding-box line: the image's path, the label object (the built-in's JSON
    annotation without `file`) and its metadata."""
    return {"source-ref": str(image),
            attribute: {"image_size": annotation["image_size"], "annotations": annotation["annotations"]},
            f"{attribute}-metadata": {"class-map": {str(c["class_id"]): c["name"] for c in annotation["categories"]},
                                      "type": "groundtruth/object-detection", "human-annotated": "yes"}}


def detection_manifest(path: Path, sample: dict, extra_lines: tuple[dict, ...] = ()) -> Path:
    """An augmented manifest of a sample set's images, in the order of its .rec, then `extra_lines`."""
    lines = []
    for annotation_file in sorted(sample["annotations"].iterdir()):
        annotation = json.loads(annotation_file.read_text())
        lines.append(manifest_line(sample["images"] / annotation["file"], annotation))
    path.write_text("".join(json.dumps(line) + "\n" for line in [*lines, *extra_lines]))
    return path
