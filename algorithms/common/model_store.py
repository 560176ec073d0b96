"""The local store of pretrained (ImageNet) weights used by `use_pretrained_model`.

No model hub is contacted: weights live under SMLOCAL_MODEL_STORE (default /opt/ml-models,
mountable into the image), one sub-directory per algorithm family."""
from __future__ import annotations

import os
from pathlib import Path

from container.errors import ClientError

DEFAULT_MODEL_STORE = "/opt/ml-models"


def model_store(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("SMLOCAL_MODEL_STORE", DEFAULT_MODEL_STORE))


def pretrained_file(relative: str, what: str, environ: dict[str, str] | None = None,
                    enabled: str = "use_pretrained_model=1", disable: str = "use_pretrained_model=0") -> Path:
    """`enabled`/`disable` spell the setting the way the algorithm's users write it."""
    path = model_store(environ) / relative
    if not path.is_file():
        raise ClientError(
            f"{enabled} needs the pretrained weights of {what} at {path}, which does not "
            f"exist; put the file there (SMLOCAL_MODEL_STORE sets the store directory) or set "
            f"{disable}")
    return path
