"""`make build PRETRAINED=1`: the image carries its algorithm's part of the model store at
/opt/ml-models (and nothing of the store's work area); the default build carries none."""
import subprocess

import pytest

from tests.jobtree import REPO

pytestmark = [pytest.mark.docker, pytest.mark.slow]
ALGORITHM = "semantic-segmentation"


def _files_in(image: str) -> list[str]:
    listed = subprocess.run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "find", image,
                             "/opt/ml-models", "-type", "f"], capture_output=True, text=True, check=True)
    return sorted(listed.stdout.split())


def test_the_store_is_baked_into_the_image(tmp_path):
    store = tmp_path / "store"
    (store / ALGORITHM).mkdir(parents=True)
    (store / ALGORITHM / "resnet50_v1s.params").write_bytes(b"weights")
    (store / "object-detection").mkdir()
    (store / "object-detection" / "resnet50_v1.params").write_bytes(b"another algorithm's")
    (store / ".partial").mkdir()
    (store / ".partial" / "resnet101_v1s.zip.part").write_bytes(b"an unfinished download")
    repo, tag = "smlocal-bake-test", "baked"
    try:
        subprocess.run(["make", "-s", "build", "PRETRAINED=1", f"MODEL_STORE={store}", f"ALGORITHMS={ALGORITHM}",
                        f"IMAGE_REPO={repo}", f"CPU_TAG={tag}"], cwd=REPO, check=True, capture_output=True)
        assert _files_in(f"{repo}/{ALGORITHM}:{tag}") == [f"/opt/ml-models/{ALGORITHM}/resnet50_v1s.params"]
        assert _files_in(f"smlocal/{ALGORITHM}:latest") == []  # the default build
    finally:
        subprocess.run(["docker", "rmi", "-f", f"{repo}/{ALGORITHM}:{tag}", f"{repo}/pretrained-store:{ALGORITHM}"],
                       capture_output=True)


def test_a_store_without_the_algorithm_s_weights_says_what_to_run(tmp_path):
    done = subprocess.run(["make", "-s", "build", "PRETRAINED=1", f"MODEL_STORE={tmp_path}", f"ALGORITHMS={ALGORITHM}",
                           "IMAGE_REPO=smlocal-bake-test"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode != 0
    assert f"no {ALGORITHM} weights in {tmp_path}: run smlocal pretrained pull {ALGORITHM} (or import)" in done.stdout
