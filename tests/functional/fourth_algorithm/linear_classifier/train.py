"""Train the linear classifier: the shared job skeleton's warm start, RecordIO reader and logger."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from algorithms.common.job import choose_start
from algorithms.common.recordio import channel_recordio, iter_records
from container.config import TrainingEnv
from container.errors import ClientError
from container.logs import get_logger
from container.stop import StopSignal
from tests.functional.fourth_algorithm.linear_classifier.spec import SCHEMA

WEIGHTS, META = "linear-weights.npy", "linear-meta.json"


def read_saved(directory: Path, source: str) -> dict:
    try:
        meta = json.loads((directory / META).read_text())
        return {**meta, "weights": np.load(directory / WEIGHTS)}
    except (OSError, ValueError) as exc:
        raise ClientError(f"The model in {source} is not a linear classifier's ({WEIGHTS}, {META}): {exc}") from None


def load(model_dir, **_):
    return read_saved(Path(model_dir), str(model_dir))


def train(env: TrainingEnv, stop: StopSignal) -> None:
    hp = SCHEMA.parse(env.hyperparameters)
    log = get_logger()
    records = list(iter_records(channel_recordio(env.paths.channel("train"), "train", env.paths.work)))
    features = np.stack([np.frombuffer(r.image, dtype=np.float32) for r in records])
    labels = np.array([int(r.label[0]) for r in records])
    if features.shape[1] != hp.feature_dim:
        raise ClientError(f"Records hold {features.shape[1]} features, feature_dim is {hp.feature_dim}")
    architecture = {"num_classes": hp.num_classes, "feature_dim": hp.feature_dim}
    start = choose_start(env, read_saved, lambda saved: saved["architecture"], architecture, use_pretrained=False)
    log.info("Starting from %s.", start.source)
    weights = start.saved["weights"] if start.from_saved else np.zeros((hp.feature_dim + 1, hp.num_classes))
    inputs = np.hstack([features, np.ones((len(features), 1))])
    targets = np.eye(hp.num_classes)[labels]
    done = 0
    for epoch in range(hp.epochs):
        if stop.requested:
            break
        scores = inputs @ weights
        probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        weights -= hp.learning_rate * inputs.T @ (probabilities - targets) / len(inputs)
        accuracy = float(((inputs @ weights).argmax(axis=1) == labels).mean())
        log.info("Epoch[%d] Train-accuracy=%f", epoch, accuracy)
        done += 1
    epochs_trained = (start.saved["epochs_trained"] if start.from_saved else 0) + done
    np.save(env.paths.model / WEIGHTS, weights)
    (env.paths.model / META).write_text(json.dumps({"architecture": architecture, "epochs_trained": epochs_trained}))
