"""The epoch loop shared by the algorithms: stop handling, validation, early stopping,
best-model tracking and checkpoints. Each algorithm supplies a `TrainingTask` that knows how to
train one epoch, validate and save; the loop decides when."""
from __future__ import annotations

import datetime
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from algorithms.common.early_stopping import EarlyStopping
from container.logs import get_logger
from container.stop import StopSignal

CHECKPOINT_STATE = "checkpoint-state.json"


@dataclass
class EpochResult:
    samples: int
    data_wait: float
    compute: float
    wall: float
    metrics: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False  # SIGTERM arrived before the epoch finished

    @property
    def throughput(self) -> float:
        return self.samples / self.wall if self.wall > 0 else 0.0


class TrainingTask(Protocol):
    def train_epoch(self, epoch: int, stop: StopSignal) -> EpochResult: ...

    def validate(self, epoch: int) -> dict[str, float]: ...

    def save_model(self, epoch: int, reason: str) -> None:
        """Write artifacts to /opt/ml/model for `epoch` (0-based). reason: best|periodic|stopped|final"""

    def save_checkpoint(self, directory: Path, state: "LoopState") -> None: ...


@dataclass
class LoopState:
    """What a resumed job needs to continue the epoch count (stored with checkpoints)."""

    epochs_completed: int = 0
    best_score: float | None = None
    best_epoch: int | None = None
    epochs_without_improvement: int = 0

    def save(self, directory: Path) -> None:
        (directory / CHECKPOINT_STATE).write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, directory: Path) -> "LoopState | None":
        path = directory / CHECKPOINT_STATE
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))


class BatchTimer:
    """Splits wall time into waiting for data and computing, and logs progress every N batches."""

    def __init__(self, epoch: int, log_every: int, batch_size: int, line: str = "Epoch[{epoch}] Batch [{batch}]\tSpeed: {speed:.2f} samples/sec"):
        self.epoch, self.log_every, self.batch_size, self.line = epoch, log_every, batch_size, line
        self.data_wait = self.compute = 0.0
        self.samples = self.batches = 0
        self.start = self._mark = time.perf_counter()
        self._window_start, self._window_samples = self.start, 0

    def data_ready(self) -> None:
        now = time.perf_counter()
        self.data_wait += now - self._mark
        self._mark = now

    def batch_done(self, samples: int, extra: str = "") -> None:
        now = time.perf_counter()
        self.compute += now - self._mark
        self._mark = now
        self.samples += samples
        self._window_samples += samples
        self.batches += 1
        if self.log_every and self.batches % self.log_every == 0:
            speed = self._window_samples / max(now - self._window_start, 1e-9)
            # `samples` and `elapsed` serve progress lines that report the epoch so far.
            get_logger().info(self.line.format(epoch=self.epoch, batch=self.batches, speed=speed,
                                               samples=self.samples,
                                               elapsed=datetime.timedelta(seconds=now - self.start)) + extra)
            self._window_start, self._window_samples = now, 0

    def result(self, metrics: dict[str, float], interrupted: bool) -> EpochResult:
        return EpochResult(self.samples, self.data_wait, self.compute, time.perf_counter() - self.start,
                           metrics, interrupted)


@dataclass
class LoopConfig:
    epochs: int
    objective: str                      # key of validate()'s result used for best/early stopping
    checkpoint_frequency: int | None    # None: keep only the best epoch in /opt/ml/model
    early_stopping: EarlyStopping
    checkpoint_dir: Path | None


def run_epochs(task: TrainingTask, config: LoopConfig, state: LoopState, stop: StopSignal) -> LoopState:
    """Train from `state.epochs_completed` to `config.epochs`; returns the final state."""
    log = get_logger()
    if state.epochs_completed >= config.epochs:
        log.info("All %d epochs were completed before (checkpoint); saving the model.", config.epochs)
        task.save_model(config.epochs - 1, "final")
        return state
    early = config.early_stopping
    early.best = state.best_score
    early.epochs_without_improvement = state.epochs_without_improvement
    saved = False
    for epoch in range(state.epochs_completed, config.epochs):
        result = task.train_epoch(epoch, stop)
        if result.interrupted:
            log.info("Stopping in epoch %d after SIGTERM; saving the current model and checkpoint.", epoch)
            task.save_model(epoch, "stopped")
            _checkpoint(task, config, state)  # epochs_completed unchanged: the epoch is redone on resume
            return state
        scores = task.validate(epoch)
        score = scores[config.objective]
        improved = early.improved(score)
        state.epochs_completed = epoch + 1
        state.epochs_without_improvement = early.epochs_without_improvement
        if improved:
            state.best_score, state.best_epoch = score, epoch
        if config.checkpoint_frequency:
            if (epoch + 1) % config.checkpoint_frequency == 0:
                task.save_model(epoch, "periodic")
                saved = True
        elif improved:
            task.save_model(epoch, "best")
            saved = True
        _checkpoint(task, config, state)
        if stop.requested:
            log.info("SIGTERM received during validation of epoch %d; stopping.", epoch)
            if config.checkpoint_frequency and (epoch + 1) % config.checkpoint_frequency:
                task.save_model(epoch, "stopped")
            return state
        if early.should_stop(state.epochs_completed):
            log.info("Early stopping: no improvement of %s for %d epochs (best %.6f at epoch %d).",
                     config.objective, early.patience, state.best_score or 0.0, state.best_epoch or 0)
            break
    if not saved and state.epochs_completed:
        # e.g. a job resumed from checkpoints that never beat the earlier best: the model
        # directory must still hold a usable model.
        task.save_model(state.epochs_completed - 1, "final")
    return state


def _checkpoint(task: TrainingTask, config: LoopConfig, state: LoopState) -> None:
    if config.checkpoint_dir is None:
        return
    config.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    task.save_checkpoint(config.checkpoint_dir, state)
    state.save(config.checkpoint_dir)
