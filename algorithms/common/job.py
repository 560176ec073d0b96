"""The job skeleton the algorithms share: where a job's first weights come from, and how the
best model and the checkpoints are kept.

Start (`choose_start`), checked before any data is read:
  checkpoint directory (a restarted job, with its epoch count and optimizer state)
  > channel 'model' (incremental training: an earlier job's model.tar.gz)
  > pretrained weights (use_pretrained_model) > random initialisation.
The saved model's architecture must match this job's, else a ClientError names the key;
with warm_start_mode=transfer (`mode`) a model channel's num_classes may differ, and the
algorithm's loader takes only the parameters that fit (algorithms.common.transfer).

Each algorithm's artifact format is its `model_io` module: `read_saved_model(directory, source)`,
`export(...)`, `has_model(directory)`, `copy_model(source, target)`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from algorithms.common.trainer import LoopState
from algorithms.common.transfer import RELAXED_KEYS, STRICT, TRANSFER
from algorithms.common.warm_start import check_matching, model_channel_dir
from container.config import TrainingEnv
from container.logs import get_logger

CHECKPOINT = "the checkpoint directory"
MODEL = "channel 'model'"
TRAINER_STATES = "trainer.states"   # gluon.Trainer / Module optimizer state in a checkpoint
BEST_DIR = "best"                   # inside the checkpoint directory: the best model so far


@dataclass
class Start:
    source: str                     # CHECKPOINT, MODEL, "pretrained" or "random"
    saved: Any = None               # the algorithm's SavedModel (checkpoint or model channel)
    state: LoopState = field(default_factory=LoopState)
    optimizer_states: Path | None = None
    transfer: bool = False          # load only the parameters that fit (warm_start_mode=transfer)

    @property
    def from_saved(self) -> bool:
        return self.saved is not None


def choose_start(env: TrainingEnv, read_saved: Callable[[Path, str], Any],
                 architecture_of: Callable[[Any], dict], expected: dict, use_pretrained: bool,
                 mode: str = STRICT) -> Start:
    """The job's start (see the module docstring). `read_saved(directory, source)` reads the
    algorithm's artifacts, `architecture_of(saved)` gives the saved model's architecture keys
    to compare with this job's `expected` ones. A checkpoint is always this job's own network,
    so `mode` (warm_start_mode) applies to the model channel only."""
    log = get_logger()
    checkpoints = env.checkpoint_dir
    if checkpoints is not None and (restored := LoopState.load(checkpoints)) is not None:
        saved = read_saved(checkpoints, CHECKPOINT)
        check_matching(expected, architecture_of(saved), CHECKPOINT)
        states = checkpoints / TRAINER_STATES
        log.info("Resuming from the checkpoint: %d epoch(s) already completed.", restored.epochs_completed)
        return Start(CHECKPOINT, saved, restored, states if states.is_file() else None)
    model_dir = model_channel_dir(env)
    if model_dir is not None:
        saved = read_saved(model_dir, MODEL)
        transfer = mode == TRANSFER
        if transfer:
            expected = {key: value for key, value in expected.items() if key not in RELAXED_KEYS}
        check_matching(expected, architecture_of(saved), MODEL)
        if use_pretrained:
            log.info("use_pretrained_model is ignored because a model channel is present.")
        return Start(MODEL, saved, transfer=transfer)
    return Start("pretrained" if use_pretrained else "random")


class BestModelArtifacts:
    """For algorithms whose artifact is the best-scoring epoch (object detection, semantic
    segmentation): the job provides `model_io`, `net`, `trainer`, `model_dir`, `hp`, `state`,
    `is_leader` and `score_name` (as the log names the objective)."""

    model_io: Any
    score_name: str

    def restore_best(self, checkpoints: Path) -> None:
        """A resumed job starts with the best model found before it, so a stop or an end that
        never beats it still leaves that model in /opt/ml/model."""
        if self.is_leader and self.model_io.has_model(checkpoints / BEST_DIR):
            self.model_io.copy_model(checkpoints / BEST_DIR, self.model_dir)

    def save_model(self, epoch: int, reason: str) -> None:
        """'best' replaces the artifact; a stop or the end of a resumed job writes the current
        weights only when no best model exists yet."""
        if not self.is_leader:
            return
        log = get_logger()
        if reason != "best" and self.model_io.has_model(self.model_dir):
            log.info("Keeping the best model (%s %s) in %s.", self.score_name, self.state.best_score, self.model_dir)
            return
        if reason == "best":
            log.info("Updating the best model with %s=%f (epoch %d)", self.score_name, self.state.best_score or 0.0,
                     epoch)
        path = self.model_io.export(self.net, self.model_dir, self.hp.as_strings())
        log.info('Saved checkpoint to "%s"', path)

    def save_checkpoint(self, directory: Path, state: LoopState) -> None:
        """The current weights, the optimizer state (when this worker holds it) and the best model."""
        self.model_io.export(self.net, directory, self.hp.as_strings())
        if self.optimizer_states_here:
            tmp = directory / f"{TRAINER_STATES}.tmp"
            self.trainer.save_states(str(tmp))
            tmp.replace(directory / TRAINER_STATES)
        else:
            # dist_async keeps the optimizer state on the parameter servers, where a worker cannot
            # save it; a resumed job restarts the momentum (and must not load older states).
            (directory / TRAINER_STATES).unlink(missing_ok=True)
        if self.model_io.has_model(self.model_dir):
            self.model_io.copy_model(self.model_dir, directory / BEST_DIR)

    @property
    def optimizer_states_here(self) -> bool:
        return True
