"""Window keys in JSON snapshots: str, int, float, bool and None as they are; bytes (Kafka
record keys) as ``{"bytes": base64}``; tuples as ``{"tuple": [...]}``."""

from __future__ import annotations

import base64
from typing import Any

from logway.errors import InvalidArgumentError


def encode(key: Any) -> Any:
    """``key`` as JSON-serialisable data."""
    if key is None or isinstance(key, str | int | float | bool):
        return key
    if isinstance(key, bytes):
        return {"bytes": base64.b64encode(key).decode("ascii")}
    if isinstance(key, tuple):
        return {"tuple": [encode(k) for k in key]}
    raise InvalidArgumentError(
        f"window key {key!r} cannot be snapshotted: use str, bytes, int, float, bool, None "
        "or a tuple of those as the key"
    )


def decode(obj: Any) -> Any:
    """The key ``encode`` described."""
    if isinstance(obj, dict):
        if "bytes" in obj:
            return base64.b64decode(obj["bytes"])
        return tuple(decode(k) for k in obj["tuple"])
    return obj
