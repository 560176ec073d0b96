import tarfile
from pathlib import Path

import pytest

from emulator.sample_data import make_classification_set
from tests.jobtree import make_tree, run_in_process

NUM_CLASSES = 4


@pytest.fixture(scope="session")
def ic_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ic-data")
    return {
        "train": make_classification_set(root / "train", NUM_CLASSES, 16, size=(32, 32), seed=1),
        "validation": make_classification_set(root / "validation", NUM_CLASSES, 4, size=(32, 32), seed=2),
    }


def base_hp(**overrides):
    hp = {"num_layers": 18, "num_classes": NUM_CLASSES, "num_training_samples": 64, "image_shape": "3,28,28",
          "mini_batch_size": 16, "epochs": 1, "learning_rate": 0.05}
    hp.update(overrides)
    return {k: v for k, v in hp.items() if v is not None}


def rec_channels(data, model_tar=None):
    channels = {
        "train": {"files": [data["train"]["rec"]], "content_type": "application/x-recordio"},
        "validation": {"files": [data["validation"]["rec"]], "content_type": "application/x-recordio"},
    }
    if model_tar is not None:
        channels["model"] = {"files": [model_tar], "content_type": "application/x-sagemaker-model"}
    return channels


def tar_model(model_dir: Path, target: Path) -> Path:
    with tarfile.open(target, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    return target


@pytest.fixture
def run_ic(tmp_path):
    """Run one job in-process: run_ic(hp, channels, name=..., checkpoint=...) -> (exit code, JobTree)."""
    counter = iter(range(100))

    def run(hp, channels, checkpoint=None):
        tree = make_tree(tmp_path / f"job{next(counter)}", hp, channels, checkpoint)
        return run_in_process(tree, "image-classification"), tree

    return run
