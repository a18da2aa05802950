"""Per-topic settings, their defaults and validation, and the ``topic.json`` file.

Names are Pythonic; Kafka's dotted names (``retention.ms``) are accepted as
aliases so the same ``create_topic`` call works on every backend.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any

from logway.errors import InvalidArgumentError
from logway.recordbatch.compression import codec_id
from logway.units import parse_duration_ms, parse_size

DAY_MS = 86_400_000
FSYNC_POLICIES = ("always", "interval", "never")
KAFKA_ALIASES = {
    "retention.ms": "retention_ms",
    "retention.bytes": "retention_bytes",
    "segment.bytes": "segment_bytes",
    "segment.ms": "segment_ms",
    "max.message.bytes": "max_record_bytes",
    "compression.type": "compression",
    "index.interval.bytes": "index_interval_bytes",
    "flush.ms": "fsync_interval_ms",
}


@dataclass(frozen=True)
class TopicConfig:
    partitions: int = 1
    retention_ms: int = 7 * DAY_MS  # -1 keeps records forever
    retention_bytes: int = -1  # per partition, as Kafka's retention.bytes; -1 is unlimited
    segment_bytes: int = 1 << 30
    segment_ms: int = 7 * DAY_MS
    max_record_bytes: int = 1 << 20
    compression: str = "none"
    fsync: str = "always"
    fsync_interval_ms: int = 1000
    index_interval_bytes: int = 4096

    @classmethod
    def build(
        cls, partitions: int = 1, defaults: TopicConfig | None = None, **options: Any
    ) -> TopicConfig:
        """Validate user options (Pythonic or Kafka names, sizes and durations as strings)."""
        base = defaults or cls()
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise InvalidArgumentError(f"partitions must be an integer >= 1, not {partitions!r}")
        known = {f.name for f in dataclasses.fields(cls)} - {"partitions"}
        values: dict[str, Any] = {}
        for raw_name, value in options.items():
            name = KAFKA_ALIASES.get(raw_name, raw_name)
            if name not in known:
                names = ", ".join(sorted(known))
                raise InvalidArgumentError(
                    f"unknown topic setting {raw_name!r}; known settings: {names}"
                )
            values[name] = _convert(name, value)
        return dataclasses.replace(base, partitions=partitions, **values)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TopicConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def _convert(name: str, value: Any) -> Any:
    if name in ("retention_ms", "segment_ms", "fsync_interval_ms"):
        if value in (-1, "-1", None, "forever") and name == "retention_ms":
            return -1
        ms = parse_duration_ms(value, name)
        if name != "retention_ms" and ms < 1:
            raise InvalidArgumentError(f"{name} must be at least 1 ms")
        return ms
    if name in ("retention_bytes",):
        if value in (-1, "-1", None, "unlimited"):
            return -1
        return parse_size(value, name)
    if name in ("segment_bytes", "max_record_bytes", "index_interval_bytes"):
        size = parse_size(value, name)
        limits = {
            "segment_bytes": (14, (1 << 31) - 1),
            "max_record_bytes": (1, (1 << 31) - 1),
            "index_interval_bytes": (0, 1 << 30),
        }
        low, high = limits[name]
        if not low <= size <= high:
            raise InvalidArgumentError(f"{name} must be between {low} and {high} bytes, not {size}")
        return size
    if name == "compression":
        codec_id(value)
        return str(value).lower()
    if name == "fsync":
        if value not in FSYNC_POLICIES:
            raise InvalidArgumentError(
                f"fsync must be one of {', '.join(FSYNC_POLICIES)}, not {value!r}"
            )
        return value
    raise AssertionError(name)


def write_json_atomically(path: str, data: dict[str, Any]) -> None:
    """Write ``path`` so a reader sees the old or the new file whole, never a mix."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(path))


def fsync_dir(path: str) -> None:
    fd = os.open(path or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
