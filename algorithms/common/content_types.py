"""The channel content types the built-ins read, in one place.

Image channels: the documented `application/x-image`, `image/jpeg` and `image/png`, plus what the
public notebooks send and SageMaker accepts (`application/jpeg` in the `.lst`-format
image-classification notebook since 2021; `image/jpg`, `application/png` alike)."""
from __future__ import annotations

from container.config import TrainingEnv
from container.errors import ClientError

RECORDIO = "application/x-recordio"
IMAGE_TYPES = ("application/x-image", "image/jpeg", "image/png", "image/jpg", "application/jpeg", "application/png")
DOCUMENTED = (RECORDIO,) + IMAGE_TYPES[:3]


def holds_recordio(env: TrainingEnv, channel: str, companion: str) -> bool:
    """True for RecordIO, False for images; without a ContentType, images when the channel's
    `companion` channel (e.g. `train_lst`, `train_annotation`) is configured."""
    content_type = env.channels[channel].base_content_type
    if content_type == RECORDIO:
        return True
    if content_type in IMAGE_TYPES:
        return False
    if content_type is None:
        return companion not in env.channels
    raise ClientError(
        f"Unsupported ContentType '{env.channels[channel].content_type}' for channel '{channel}'; "
        f"allowed: {', '.join(DOCUMENTED)} (also {', '.join(IMAGE_TYPES[3:])})")
