from pathlib import Path

import pytest

from emulator.sample_data import make_segmentation_set
from tests import jobtree
from tests.jobtree import in_process_runner, make_tree

ALGORITHM = "semantic-segmentation"
DATA_CLASSES = 3  # classes drawn in the synthetic images
# Validation images whose sides are not multiples of 8 and differ from the crop: the sizes the
# built-in's PSP/DeepLab fail on when validating whole images.
VALIDATION_SIZES = [(37, 50), (45, 41)]


@pytest.fixture(scope="session")
def ss_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ss-data")
    return {
        "train": make_segmentation_set(root / "train", DATA_CLASSES, 4, size=(48, 64), seed=1),
        "validation": make_segmentation_set(root / "validation", DATA_CLASSES, 2, size=VALIDATION_SIZES,
                                            mask_mode="L", seed=2),
    }


def base_hp(**overrides):
    hp = {"num_classes": DATA_CLASSES, "num_training_samples": 4, "mini_batch_size": 2, "epochs": 1,
          "crop_size": 32, "base_size": 48, "use_pretrained_model": "False", "validation_mini_batch_size": 1,
          "learning_rate": 0.01}
    hp.update(overrides)
    return {k: v for k, v in hp.items() if v is not None}


def channels(data, model=None, label_maps=None):
    result = {}
    for name in ("train", "validation"):
        result[name] = {"files": sorted(data[name]["images"].iterdir()), "content_type": "image/jpeg"}
        result[f"{name}_annotation"] = {"files": sorted(data[name]["annotations"].iterdir()),
                                        "content_type": "image/png"}
    if model is not None:
        files = [model] if Path(model).is_file() else sorted(Path(model).iterdir())
        result["model"] = {"files": files, "content_type": "application/x-sagemaker-model"}
    if label_maps is not None:
        result["label_map"] = {"files": label_maps}
    return result


@pytest.fixture
def run_ss(tmp_path):
    """Run one job in-process: run_ss(hp, channels, checkpoint=None) -> (exit code, JobTree)."""
    return in_process_runner(tmp_path, ALGORITHM)


def run_subprocess(tree, timeout=600, extra_env=None):
    return jobtree.run_subprocess(tree, ALGORITHM, timeout, extra_env)


def tar_model(model_dir: Path, target: Path) -> Path:
    return jobtree.tar_model(model_dir, target, compresslevel=1)  # ~100 MB of weights: speed over size


@pytest.fixture(scope="session")
def trained_job(ss_data, tmp_path_factory):
    """One real job through `python -m container train`: FCN-ResNet-50 with 21 classes (Pascal
    VOC's count, so the artifact loads into get_model('fcn_resnet50_voc')), crop_size 30 (rounded
    to 32), two epochs of the 4 images in batches of 3 (the last one short), whole-image validation.
    Returns (exit code, JobTree, log)."""
    hp = base_hp(num_classes=21, crop_size=30, epochs=2, mini_batch_size=3)
    tree = make_tree(tmp_path_factory.mktemp("ss-job") / "job", hp, channels(ss_data))
    code, log = run_subprocess(tree)
    return code, tree, log


@pytest.fixture(scope="session")
def trained_model_tar(trained_job, tmp_path_factory):
    _, tree, _ = trained_job
    return tar_model(tree.model, tmp_path_factory.mktemp("ss-model") / "model.tar.gz")
