"""How the console shows times, durations and a metric's sparkline (template filters)."""
from __future__ import annotations

from datetime import datetime, timezone

SPARK_WIDTH, SPARK_HEIGHT = 96, 24


def when(value: datetime | None) -> str:
    """A time as the SageMaker console shows it: UTC, to the second."""
    if value is None:
        return "-"
    return value.astimezone(timezone.utc).strftime("%b %d, %Y %H:%M:%S UTC")


def iso(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).isoformat() if value is not None else ""


def duration(start: datetime | None, end: datetime | None) -> str:
    """`1h 2m 3s`, `2m 3s`, `3s`; until now while `end` is not known."""
    if start is None:
        return "-"
    seconds = max(0, int(((end or datetime.now(timezone.utc)) - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {seconds}s"
    return f"{minutes}m {seconds}s" if minutes else f"{seconds}s"


def sparkline(values: list[float]) -> str:
    """An SVG polyline's points for `values` in a SPARK_WIDTH x SPARK_HEIGHT box ('' for none)."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = SPARK_WIDTH / max(1, len(values) - 1)
    points = [(i * step if len(values) > 1 else SPARK_WIDTH / 2,
               SPARK_HEIGHT - 2 - (v - low) / span * (SPARK_HEIGHT - 4)) for i, v in enumerate(values)]
    if len(points) == 1:
        points.append((points[0][0] + 1, points[0][1]))
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


FILTERS = {"when": when, "iso": iso}
