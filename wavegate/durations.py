"""Prometheus-style durations: `15s`, `1h30m`, `7d`, read and written exactly."""

from __future__ import annotations

import re

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_duration(value: object) -> float:
    """Seconds in a Prometheus-style duration such as `15s`, `1h30m` or `7d`; plain numbers are seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a string such as 15s, 5m or 7d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        position, seconds = 0, 0.0
        for match in _DURATION.finditer(text):
            if match.start() != position:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            position = match.end()
        if position != len(text):
            raise ValueError(f"{value!r} is not a duration; write it like 15s, 5m, 1h30m or 7d")
    else:
        raise ValueError("a duration is a string such as 15s, 5m or 7d")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact Prometheus duration for `seconds` (whole milliseconds), e.g. 7d, 1h30m, 15s."""
    millis = round(seconds * 1000)
    if millis <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
