import pytest

from emulator.sample_data import make_detection_set
from tests import jobtree
from tests.jobtree import in_process_runner, make_tree, rec_channels, tar_model  # noqa: F401 - used by the tests

NUM_CLASSES = 2
TRAIN_IMAGES = 5
ALGORITHM = "object-detection"


@pytest.fixture(scope="session")
def od_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("od-data")
    return {
        # 5 images in batches of 2: the last batch is short (filled up, never counted).
        "train": make_detection_set(root / "train", NUM_CLASSES, TRAIN_IMAGES, seed=1),
        "validation": make_detection_set(root / "validation", NUM_CLASSES, 2, seed=2),
    }


def base_hp(**overrides):
    hp = {"base_network": "resnet-50", "num_classes": NUM_CLASSES, "num_training_samples": TRAIN_IMAGES, "mini_batch_size": 2,
          "epochs": 1, "image_shape": 300}
    hp.update(overrides)
    return {k: v for k, v in hp.items() if v is not None}


def json_channels(data, channel="train"):
    """`channel` as images + JSON annotations (the built-in's image format)."""
    channels = rec_channels(data)
    channels[channel] = {"files": sorted(data[channel]["images"].iterdir()), "content_type": "image/jpeg"}
    channels[f"{channel}_annotation"] = {"files": sorted(data[channel]["annotations"].iterdir()),
                                         "content_type": "image/jpeg"}
    return channels


@pytest.fixture
def run_od(tmp_path):
    """Run one job in-process: run_od(hp, channels, checkpoint=None) -> (exit code, JobTree)."""
    return in_process_runner(tmp_path, ALGORITHM)


def run_subprocess(tree, timeout=600, extra_env=None):
    return jobtree.run_subprocess(tree, ALGORITHM, timeout, extra_env)


@pytest.fixture(scope="session")
def trained_job(od_data, tmp_path_factory):
    """One real job through `python -m container train`: JSON-annotated training images,
    RecordIO validation, ResNet-50 at 300, one epoch. Returns (exit code, JobTree, log)."""
    tree = make_tree(tmp_path_factory.mktemp("od-job") / "job", base_hp(), json_channels(od_data))
    code, log = run_subprocess(tree)
    return code, tree, log


@pytest.fixture(scope="session")
def trained_model_tar(trained_job, tmp_path_factory):
    """The trained job's model.tar.gz, packed once (gzip of ~100 MB takes seconds)."""
    _, tree, _ = trained_job
    return tar_model(tree.model, tmp_path_factory.mktemp("od-model") / "model.tar.gz")
