"""A job stopped by SIGTERM saves its state to the checkpoint directory; a new job with the same
checkpoint configuration resumes from it."""
import json
import re
import signal

import pytest

from tests.epoch_log import assert_epoch_samples
from tests.functional.object_detection.conftest import ALGORITHM, TRAIN_IMAGES, base_hp, rec_channels
from tests.jobtree import make_tree, start_subprocess

EPOCHS = 3


@pytest.mark.slow
def test_sigterm_then_resume_from_checkpoints(od_data, tmp_path):
    checkpoints = tmp_path / "checkpoints"
    hp = base_hp(epochs=EPOCHS)
    first = make_tree(tmp_path / "first", hp, rec_channels(od_data), checkpoint=checkpoints)
    process = start_subprocess(first, ALGORITHM)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "validation mAP <score>=" in line:  # epoch 0 is done: stop during epoch 1
            process.send_signal(signal.SIGTERM)
            break
    lines += process.stdout.readlines()
    assert process.wait(timeout=300) == 0, "".join(lines[-30:])
    log = "".join(lines)
    assert "Received SIGTERM" in log
    state = json.loads((checkpoints / "checkpoint-state.json").read_text())
    assert 1 <= state["epochs_completed"] < EPOCHS
    assert {"model_algo_1-0000.params", "model_algo_1-symbol.json", "hyperparams.json", "trainer.states"} <= {
        p.name for p in checkpoints.iterdir()}
    assert sorted(p.name for p in first.model.iterdir()) == [
        "hyperparams.json", "model_algo_1-0000.params", "model_algo_1-symbol.json"]

    second = make_tree(tmp_path / "second", hp, rec_channels(od_data), checkpoint=checkpoints)
    process = start_subprocess(second, ALGORITHM)
    log, _ = process.communicate(timeout=600)
    assert process.returncode == 0, log[-3000:]
    done = state["epochs_completed"]
    assert f"Resuming from the checkpoint: {done} epoch(s) already completed." in log
    validated = [int(e) for e in re.findall(r"epoch=(\d+), validation mAP", log)]
    assert validated == list(range(done, EPOCHS))
    assert_epoch_samples(log, TRAIN_IMAGES, list(range(done, EPOCHS)))
    assert json.loads((checkpoints / "checkpoint-state.json").read_text())["epochs_completed"] == EPOCHS
    # The artifact is the best model over both jobs: restored from the checkpoint, then kept or replaced.
    assert sorted(p.name for p in second.model.iterdir()) == [
        "hyperparams.json", "model_algo_1-0000.params", "model_algo_1-symbol.json"]
