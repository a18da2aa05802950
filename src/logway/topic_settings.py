"""Topic settings every backend shares: logway's Pythonic names, Kafka's dotted
names for them (accepted as aliases, so one ``create_topic`` call works on every
backend), and how a given value is checked and converted (sizes and durations may
be strings such as ``"1GB"`` and ``"7d"``)."""

from __future__ import annotations

from typing import Any

from logway.errors import InvalidArgumentError
from logway.recordbatch.compression import codec_id
from logway.units import parse_duration_ms, parse_size

DAY_MS = 86_400_000
FSYNC_POLICIES = ("always", "interval", "never")
# the subjects a topic's keys and values must hold to (checked by logway.schemas)
SCHEMA_SETTINGS = ("key_schema", "value_schema")
KAFKA_ALIASES = {
    "retention.ms": "retention_ms",
    "retention.bytes": "retention_bytes",
    "segment.bytes": "segment_bytes",
    "segment.ms": "segment_ms",
    "max.message.bytes": "max_record_bytes",
    "compression.type": "compression",
    "index.interval.bytes": "index_interval_bytes",
    "flush.ms": "fsync_interval_ms",
    "message.timestamp.type": "timestamp_type",
    "key.schema.subject": "key_schema",
    "value.schema.subject": "value_schema",
}
KAFKA_NAMES = {ours: kafka for kafka, ours in KAFKA_ALIASES.items()}
# a record's timestamp: the producer's (Kafka's CreateTime) or the time the log
# appended it (LogAppendTime: the log stamps each batch as it stores it)
TIMESTAMP_TYPES = {"create": "CreateTime", "log_append": "LogAppendTime"}


def kafka_value(name: str, value: Any) -> str:
    """A setting's value (logway's name and unit) as Kafka writes it."""
    if name == "timestamp_type":
        return TIMESTAMP_TYPES[value]
    if name == "compression" and value == "none":
        return "uncompressed"
    return str(value)


def convert_setting(name: str, value: Any) -> Any:
    """``value`` for the setting ``name`` (logway's name), checked and converted."""
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
        if isinstance(value, str) and value.lower() == "uncompressed":
            return "none"  # Kafka's name for it
        codec_id(value)
        return str(value).lower()
    if name == "timestamp_type":
        for ours, kafka in TIMESTAMP_TYPES.items():
            if isinstance(value, str) and value.lower() in (ours, kafka.lower()):
                return ours
        raise InvalidArgumentError(
            "timestamp_type (message.timestamp.type) must be 'create' (CreateTime) or "
            f"'log_append' (LogAppendTime), not {value!r}"
        )
    if name in SCHEMA_SETTINGS:
        if value is None or value == "":
            return None
        if not isinstance(value, str) or not value.strip() or not value.isprintable():
            raise InvalidArgumentError(
                f"{name} names a schema registry subject (e.g. 'orders-value'), not {value!r}"
            )
        return value
    if name == "fsync":
        if value not in FSYNC_POLICIES:
            raise InvalidArgumentError(
                f"fsync must be one of {', '.join(FSYNC_POLICIES)}, not {value!r}"
            )
        return value
    raise AssertionError(name)


# The topic settings every backend knows, in Kafka's names (which the embedded log
# accepts as aliases): logway's name -> Kafka's. Others (fsync, cleanup.policy, ...)
# exist on one backend only and keep the destination's defaults.
PORTABLE_SETTINGS = {
    k: v for k, v in KAFKA_NAMES.items() if k not in ("fsync_interval_ms", *SCHEMA_SETTINGS)
}


def portable_settings(config: dict[str, Any]) -> dict[str, str]:
    """The settings of ``describe_topic`` that every backend accepts, in Kafka's names."""
    out: dict[str, str] = {}
    for name, value in config.items():
        kafka_name = PORTABLE_SETTINGS.get(name, name)
        if kafka_name not in PORTABLE_SETTINGS.values() or value is None:
            continue
        if kafka_name == "compression.type" and str(value).lower() == "producer":
            continue  # Kafka's "keep the producer's codec" has no logway equivalent
        ours = KAFKA_ALIASES.get(kafka_name, name)
        out[kafka_name] = kafka_value(ours, convert_setting(ours, value))
    return out
