"""A model's files in a directory, written and copied so that no reader ever sees half a model:
the artifact formats of object detection and semantic segmentation (their model_io modules)."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_export(directory: Path, names: tuple[str, ...]) -> Iterator[Path]:
    """Yield a scratch folder to write the files `names` into; on success each replaces its
    namesake in `directory` by a rename. The scratch folder sits beside the artifacts (same file
    system, so each rename is atomic) and its `.tmp` name keeps a killed job's partial files out of
    model.tar.gz and checkpoint uploads; leftovers of an interrupted export are removed first."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(".export-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".export-", suffix=".tmp") as tmp:
        yield Path(tmp)
        for name in names:
            os.replace(Path(tmp, name), directory / name)


def has_files(directory: Path, names: tuple[str, ...]) -> bool:
    return all((directory / name).is_file() for name in names)


def copy_files(source: Path, target: Path, names: tuple[str, ...]) -> None:
    """Copy each file under a temporary name, then rename it into place."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(source / name, target / f".{name}.tmp")
        os.replace(target / f".{name}.tmp", target / name)
