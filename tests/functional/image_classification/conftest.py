import pytest

from emulator.sample_data import make_classification_set
from tests.jobtree import in_process_runner, rec_channels, tar_model  # noqa: F401 - used by the tests

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


@pytest.fixture
def run_ic(tmp_path):
    """Run one job in-process: run_ic(hp, channels, checkpoint=...) -> (exit code, JobTree)."""
    return in_process_runner(tmp_path, "image-classification")
