"""Settings read from environment variables (the image's knobs), checked in one place."""
from __future__ import annotations

from typing import Mapping, Optional

from container.errors import ClientError


def positive_int(env: Mapping[str, str], name: str, default: Optional[int]) -> Optional[int]:
    """`env[name]` as a whole number of at least 1; `default` when unset or empty."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ClientError(f"Environment variable {name}={raw!r} must be a whole number of at least 1")
    return value
