"""Parsing of human sizes (``"64MB"``) and durations (``"5s"``, ``"7d"``).

Sizes use binary multiples (``1KB`` = 1024 bytes, as Kafka's docs and most
operators mean them); durations return milliseconds, Kafka's unit.
"""

from __future__ import annotations

import re

from logway.errors import InvalidArgumentError

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "tib": 1024**4,
}
_DURATION_UNITS_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "min": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
}
_NUMBER_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: int | str, name: str = "size") -> int:
    """Return a byte count from an int or a string such as ``"64MB"``."""
    if isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be a size such as 1048576 or '1MB', not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise InvalidArgumentError(f"{name} must not be negative, got {value}")
        return value
    match = _NUMBER_UNIT.match(str(value))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _SIZE_UNITS:
        raise InvalidArgumentError(
            f"{name} must be a size such as 1048576, '64KB', '64MB' or '1GB', not {value!r}"
        )
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def parse_duration_ms(value: int | float | str, name: str = "duration") -> int:
    """Return milliseconds from a number of milliseconds or a string such as ``"5s"``."""
    if isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be a duration such as '5s' or '7d', not {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise InvalidArgumentError(f"{name} must not be negative, got {value}")
        return int(value)
    match = _NUMBER_UNIT.match(str(value))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _DURATION_UNITS_MS:
        if match is not None and unit == "":
            return int(float(match.group(1)))
        raise InvalidArgumentError(
            f"{name} must be a duration such as 250 (ms), '500ms', '5s', '10m', '2h' or '7d', "
            f"not {value!r}"
        )
    return int(float(match.group(1)) * _DURATION_UNITS_MS[unit])


def parse_seconds(value: object, name: str, low: float, high: float) -> float:
    """Seconds from a number of seconds or a duration such as ``"5s"`` or ``"2m"``,
    within ``low``..``high`` (a setting's allowed range)."""
    if isinstance(value, str):
        seconds = parse_duration_ms(value, name) / 1000
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgumentError(f"{name} must be seconds or a duration such as '5s'")
    else:
        seconds = float(value)
    if not low <= seconds <= high:
        raise InvalidArgumentError(f"{name} must be from {low:g} s to {high:g} s, not {value!r}")
    return seconds
