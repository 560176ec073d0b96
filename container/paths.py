"""Every /opt/ml path, rooted at one base directory (SAGEMAKER_BASE_DIR, default /opt/ml)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE_DIR = "/opt/ml"


@dataclass(frozen=True)
class MLPaths:
    base: Path

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "MLPaths":
        env = os.environ if environ is None else environ
        return cls(Path(env.get("SAGEMAKER_BASE_DIR", DEFAULT_BASE_DIR)))

    @property
    def input_config(self) -> Path:
        return self.base / "input" / "config"

    @property
    def hyperparameters(self) -> Path:
        return self.input_config / "hyperparameters.json"

    @property
    def input_data_config(self) -> Path:
        return self.input_config / "inputdataconfig.json"

    @property
    def resource_config(self) -> Path:
        return self.input_config / "resourceconfig.json"

    @property
    def checkpoint_config(self) -> Path:
        return self.input_config / "checkpointconfig.json"

    @property
    def data(self) -> Path:
        return self.base / "input" / "data"

    def channel(self, name: str) -> Path:
        return self.data / name

    @property
    def model(self) -> Path:
        return self.base / "model"

    @property
    def output(self) -> Path:
        return self.base / "output"

    @property
    def output_data(self) -> Path:
        return self.output / "data"

    @property
    def failure(self) -> Path:
        return self.output / "failure"

    @property
    def success(self) -> Path:
        return self.output / "success"

    @property
    def default_checkpoints(self) -> Path:
        return self.base / "checkpoints"

    @property
    def work(self) -> Path:
        """Scratch space for derived data (packed RecordIO, extracted models); never uploaded."""
        return self.base / "input" / "work"
