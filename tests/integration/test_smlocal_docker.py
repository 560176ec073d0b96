"""`smlocal train --image`: the emulator runs the built image, and a second job warm-starts from the first."""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

HP = ["--hp", "num_layers=18", "--hp", "num_classes=4", "--hp", "num_training_samples=64",
      "--hp", "image_shape=3,28,28", "--hp", "mini_batch_size=16", "--hp", "epochs=1"]


def smlocal_train(image, ic_data, home, name, *extra):
    channels = [f"{c}={ic_data[c]['rec']},content_type=application/x-recordio" for c in ("train", "validation")]
    args = [sys.executable, "-m", "emulator.cli", "--home", str(home), "train", "--image", image, "--job-name", name,
            "--channel", channels[0], "--channel", channels[1], *HP, *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=900, env={**os.environ, "SMLOCAL_HOME": str(home)})


def test_incremental_training_through_the_docker_runner(ic_image, ic_data, tmp_path):
    home = tmp_path / "home"
    first = smlocal_train(ic_image, ic_data, home, "docker-first")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Completed - Training job completed" in first.stdout
    model_tar = home / "output" / "docker-first" / "output" / "model.tar.gz"
    with tarfile.open(model_tar) as tar:
        assert {"image-classification-symbol.json", "model-shapes.json",
                "image-classification-0001.params"} <= set(tar.getnames())

    second = smlocal_train(ic_image, ic_data, home, "docker-second", "--model-uri", str(model_tar))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Incremental training: initialising from" in second.stdout
    assert (home / "output" / "docker-second" / "output" / "model.tar.gz").is_file()
