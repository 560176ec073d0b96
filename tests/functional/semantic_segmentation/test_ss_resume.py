"""A stopped job saves a model and a checkpoint; a new job with the same checkpoint configuration
resumes from it."""
import json
import signal

import pytest

from algorithms.semantic_segmentation.train import train
from container.config import TrainingEnv
from container.logs import setup_logging
from container.paths import MLPaths
from container.stop import StopSignal
from tests.functional.semantic_segmentation.conftest import ALGORITHM, base_hp, channels
from tests.epoch_log import assert_epoch_samples
from tests.jobtree import make_tree, run_in_process, start_subprocess

EPOCHS = 2
CHECKPOINT_FILES = {"checkpoint-state.json", "hyperparams.json", "model_algo-1", "trainer.states"}


class StopAfterPolls(StopSignal):
    """A stop request (as SIGTERM makes) seen from the `polls`+1-th look at the flag on. The loop
    looks before each training batch, once when the data runs out, and after validation."""

    def __init__(self, polls: int):
        super().__init__()
        self.seen = 0
        self.polls = polls

    @property
    def requested(self) -> bool:
        self.seen += 1
        return self.seen > self.polls


def test_stop_then_resume(tmp_path, ss_data, caplog):
    checkpoints = tmp_path / "checkpoints"
    hp = base_hp(epochs=EPOCHS, validation_mini_batch_size=2)
    first = make_tree(tmp_path / "first", hp, channels(ss_data), checkpoint=checkpoints)
    setup_logging()  # what the container entry does before calling the algorithm
    # Epoch 0 (two batches: 3 looks, 1 after validation) completes; the stop arrives in epoch 1.
    train(TrainingEnv.read(MLPaths(first.base)), StopAfterPolls(4))
    state = json.loads((checkpoints / "checkpoint-state.json").read_text())
    assert state["epochs_completed"] == 1 and state["best_epoch"] == 0
    assert CHECKPOINT_FILES <= {p.name for p in checkpoints.iterdir()}
    assert sorted(p.name for p in (checkpoints / "best").iterdir()) == ["hyperparams.json", "model_algo-1"]
    assert sorted(p.name for p in first.model.iterdir()) == ["hyperparams.json", "model_algo-1"]
    assert "Stopping in epoch 1 after SIGTERM" in caplog.text

    caplog.clear()
    second = make_tree(tmp_path / "second", hp, channels(ss_data), checkpoint=checkpoints)
    assert run_in_process(second, ALGORITHM) == 0, second.failure
    assert "Resuming from the checkpoint: 1 epoch(s) already completed." in caplog.text
    assert "epoch=0, validation mIOU" not in caplog.text and "epoch=1, validation mIOU" in caplog.text
    assert_epoch_samples(caplog.text, 4, [1])
    assert json.loads((checkpoints / "checkpoint-state.json").read_text())["epochs_completed"] == EPOCHS
    assert (second.model / "model_algo-1").is_file()


def test_checkpoint_of_another_architecture_is_refused(tmp_path, ss_data):
    checkpoints = tmp_path / "checkpoints"
    first = make_tree(tmp_path / "first", base_hp(), channels(ss_data), checkpoint=checkpoints)
    assert run_in_process(first, ALGORITHM) == 0, first.failure
    second = make_tree(tmp_path / "second", base_hp(algorithm="deeplab"), channels(ss_data), checkpoint=checkpoints)
    assert run_in_process(second, ALGORITHM) == 2
    assert "Incompatible model in the checkpoint directory: hyperparameter 'algorithm' is 'deeplab'" in second.failure


@pytest.mark.slow
def test_sigterm_through_the_container_entry_then_resume(tmp_path, ss_data):
    checkpoints = tmp_path / "checkpoints"
    hp = base_hp(epochs=3)
    first = make_tree(tmp_path / "first", hp, channels(ss_data), checkpoint=checkpoints)
    process = start_subprocess(first, ALGORITHM)
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "validation mIOU <score>=" in line:  # epoch 0 is done: stop during epoch 1
            process.send_signal(signal.SIGTERM)
            break
    lines += process.stdout.readlines()
    assert process.wait(timeout=300) == 0, "".join(lines[-30:])
    log = "".join(lines)
    assert log.count("Received SIGTERM") == 1  # the job's own handler only, not the loader workers'
    state = json.loads((checkpoints / "checkpoint-state.json").read_text())
    assert 1 <= state["epochs_completed"] < 3
    assert CHECKPOINT_FILES <= {p.name for p in checkpoints.iterdir()}

    second = make_tree(tmp_path / "second", hp, channels(ss_data), checkpoint=checkpoints)
    process = start_subprocess(second, ALGORITHM)
    log, _ = process.communicate(timeout=600)
    assert process.returncode == 0, log[-3000:]
    assert f"Resuming from the checkpoint: {state['epochs_completed']} epoch(s) already completed." in log
    assert json.loads((checkpoints / "checkpoint-state.json").read_text())["epochs_completed"] == 3
