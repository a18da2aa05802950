"""Plain data that crosses every layer: records, their coordinates, metadata.

Timestamps are integers in milliseconds since the Unix epoch, as Kafka keeps
them; ``Record.datetime`` gives an aware ``datetime`` when that reads better.
Headers are a tuple of ``(name, value)`` pairs, names ``str`` and values
``bytes`` or ``None``; a name may repeat, as in Kafka.
"""

from __future__ import annotations

import datetime as _dt
import json as _json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar, overload

from logway.errors import InvalidArgumentError

M = TypeVar("M")
Header = tuple[str, bytes | None]
Headers = tuple[Header, ...]
HeadersInput = Mapping[str, bytes | str | None] | Iterable[tuple[str, bytes | str | None]] | None


class TopicPartition(NamedTuple):
    topic: str
    partition: int


class Record(NamedTuple):
    """One record read from the log, with its position and metadata."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()

    @property
    def datetime(self) -> _dt.datetime:
        return _dt.datetime.fromtimestamp(self.timestamp / 1000, tz=_dt.UTC)

    def header(self, name: str, default: bytes | None = None) -> bytes | None:
        """Value of the last header called ``name`` (Kafka keeps them in order)."""
        for key, value in reversed(self.headers):
            if key == name:
                return value
        return default

    def json(self) -> Any:
        """The value parsed as JSON (``ValueError`` if it is not JSON; None for no value)."""
        return None if self.value is None else _json.loads(self.value)

    def decode(self, message_type: type[M] | None = None, schemas: Any = None) -> Any:
        """The value decoded. In the schema registry's wire format (a zero byte and a
        schema id first), with the schema that id names, by ``schemas`` (a broker's
        ``schemas``) or else the registry this process's broker made last; or, given
        ``message_type``, as that Protobuf message. A value not in the wire format is
        parsed as a ``message_type`` (its ``FromString``)."""
        value = self.value or b""
        framed = len(value) >= 5 and value[0] == 0
        if framed and message_type is None:
            registry = schemas if schemas is not None else default_schemas
            if registry is None:
                raise InvalidArgumentError(
                    "no schema registry to decode with: pass schemas=broker.schemas "
                    "or the value's message type"
                )
            return registry.decode(value)
        if message_type is None:
            raise InvalidArgumentError(
                f"the value of {self.topic}/{self.partition}@{self.offset} is not in the "
                "schema registry's wire format; pass its message type to decode it"
            )
        start = _after_message_indexes(value) if framed else 0
        return message_type.FromString(value[start:])  # type: ignore[attr-defined]


class Message(NamedTuple):
    """A record to produce; items of ``produce_many`` may be these, bytes or str."""

    value: bytes | str | None
    key: bytes | str | None = None
    headers: HeadersInput = None
    partition: int | None = None
    timestamp: int | _dt.datetime | None = None


class RecordMetadata(NamedTuple):
    """Where a produced record was stored."""

    topic: str
    partition: int
    offset: int
    timestamp: int


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    config: dict[str, Any] = field(default_factory=dict)


class PartitionLag(NamedTuple):
    """A consumer group's position on one partition; ``lag = end_offset - committed``."""

    topic: str
    partition: int
    committed: int | None
    end_offset: int
    lag: int


def to_bytes(
    value: bytes | bytearray | memoryview | str | None, what: str = "value"
) -> bytes | None:
    """Accept bytes-like or str (UTF-8) for keys, values and header values."""
    if value is None or type(value) is bytes:
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{what} must be bytes, str or None, not {type(value).__name__}")


def normalize_headers(headers: HeadersInput) -> Headers:
    """Turn a dict or a list of pairs into the stored form ``((str, bytes|None), ...)``."""
    if not headers:
        return ()
    items = headers.items() if isinstance(headers, Mapping) else headers
    out = []
    for pair in items:
        try:
            name, value = pair
        except (TypeError, ValueError):
            raise TypeError(f"each header must be a (name, value) pair, not {pair!r}") from None
        if not isinstance(name, str):
            raise TypeError(f"header names must be str, not {type(name).__name__}")
        out.append((name, to_bytes(value, f"header {name!r}")))
    return tuple(out)


def to_millis(timestamp: int | float | _dt.datetime | None) -> int | None:
    """Milliseconds since the epoch from an int/float of ms or a datetime (naive = UTC)."""
    if timestamp is None:
        return None
    if isinstance(timestamp, _dt.datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=_dt.UTC)
        return int(timestamp.timestamp() * 1000)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        raise TypeError(f"timestamp must be milliseconds or a datetime, not {timestamp!r}")
    return int(timestamp)


def check_own_offsets(records: Sequence[Record]) -> None:
    """Refuse records that cannot keep their offsets (``Broker.write_at``): offsets must
    be integers >= 0 that increase, timestamps integers."""
    previous = -1
    for i, r in enumerate(records):
        try:
            offset, timestamp = r.offset, r.timestamp
        except AttributeError:
            raise InvalidArgumentError(
                f"record {i} is a {type(r).__name__}; write_at takes Records (with offsets)"
            ) from None
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidArgumentError(f"record {i} has offset {offset!r}; offsets are ints >= 0")
        if offset <= previous:
            raise InvalidArgumentError(
                f"record {i} has offset {offset}, not above the offset before it ({previous}): "
                "records must come in increasing offset order"
            )
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            raise InvalidArgumentError(
                f"record {i} has timestamp {timestamp!r}; timestamps are milliseconds (int)"
            )
        previous = offset


class ProducedBatch(Sequence[RecordMetadata]):
    """What ``produce_many`` returns: one ``RecordMetadata`` per record, in input order,
    built on access so a batch of a million records costs no million objects."""

    def __init__(
        self, topic: str, items: Sequence[Any], default_timestamp: int, stamped: bool = False
    ) -> None:
        """``stamped``: every record has ``default_timestamp``, the time the log appended
        it (a topic with Kafka's LogAppendTime)."""
        self.topic = topic
        self._items = items
        self._default_ts = default_timestamp
        self._stamped = stamped
        self._parts: list[tuple[int, int, list[int] | None]] = []  # partition, base, indexes
        self._where: list[tuple[int, int]] | None = None

    @property
    def log_append_time(self) -> int | None:
        """The time the log stamped every record with (LogAppendTime topics), or None."""
        return self._default_ts if self._stamped else None

    def stamp(self, append_time: int) -> None:
        """Every record has ``append_time``, the time the log appended it."""
        self._default_ts, self._stamped = append_time, True

    def add(self, partition: int, base_offset: int, indexes: list[int] | None) -> None:
        """Record that ``items[indexes]`` (all items if None) went to one partition."""
        self._parts.append((partition, base_offset, indexes))
        self._where = None

    @property
    def parts(self) -> list[tuple[int, int, list[int] | None]]:
        """``(partition, base offset, indexes or None for all)`` per appended batch."""
        return list(self._parts)

    def __len__(self) -> int:
        return len(self._items)

    def _locate(self, i: int) -> tuple[int, int]:
        if len(self._parts) == 1 and self._parts[0][2] is None:
            return 0, i
        if self._where is None:
            where = [(0, 0)] * len(self._items)
            for k, (_p, _b, indexes) in enumerate(self._parts):
                for j, idx in enumerate(indexes if indexes is not None else range(len(where))):
                    where[idx] = (k, j)
            self._where = where
        return self._where[i]

    def _timestamp(self, item: Any) -> int:
        if self._stamped:
            return self._default_ts
        if isinstance(item, tuple) and len(item) >= 5 and item[4] is not None:
            return to_millis(item[4]) or self._default_ts
        return self._default_ts

    @overload
    def __getitem__(self, i: int) -> RecordMetadata: ...
    @overload
    def __getitem__(self, i: slice) -> list[RecordMetadata]: ...
    def __getitem__(self, i: int | slice) -> RecordMetadata | list[RecordMetadata]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self._items)))]
        if i < 0:
            i += len(self._items)
        if not 0 <= i < len(self._items):
            raise IndexError("produced batch index out of range")
        k, j = self._locate(i)
        partition, base, _indexes = self._parts[k]
        return RecordMetadata(self.topic, partition, base + j, self._timestamp(self._items[i]))

    def __repr__(self) -> str:
        return f"ProducedBatch(topic={self.topic!r}, records={len(self._items)})"


# the registry ``Record.decode`` uses when given none: set by ``Broker.schemas``
default_schemas: Any = None


def _after_message_indexes(value: bytes) -> int:
    """Where the Protobuf message starts in a framed value: after the magic byte, the
    schema id and the message indexes (a zigzag varint count, then the indexes)."""
    pos, count = 5, None
    while True:
        shift = number = 0
        while True:
            if pos >= len(value):
                raise InvalidArgumentError("the value's Protobuf message indexes are cut short")
            byte = value[pos]
            pos += 1
            number |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if count is None:
            count = number >> 1
            if count == 0:
                return pos
        else:
            count -= 1
            if count == 0:
                return pos
