"""Per-topic settings of the embedded log, their defaults, and the ``topic.json``
file. Names and validation are ``logway.topic_settings``, shared by every backend."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any

from logway.errors import InvalidArgumentError
from logway.topic_settings import DAY_MS, KAFKA_ALIASES, convert_setting


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
    timestamp_type: str = "create"  # or "log_append" (Kafka's LogAppendTime)
    # schema registry subjects every key / value must hold to (logway.schemas checks)
    key_schema: str | None = None
    value_schema: str | None = None

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
            values[name] = convert_setting(name, value)
        return dataclasses.replace(base, partitions=partitions, **values)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TopicConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


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
