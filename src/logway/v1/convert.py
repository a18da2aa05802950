"""Conversions between logway's records and the logway.v1 messages."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from logway.errors import CorruptRecordError, InvalidArgumentError
from logway.recordbatch import codec
from logway.records import (
    Headers,
    Message,
    PartitionLag,
    Record,
    RecordMetadata,
    TopicInfo,
    TopicPartition,
)
from logway.units import parse_duration_ms
from logway.v1 import log_pb2 as pb


def headers_to_pb(headers: Headers) -> list[pb.Header]:
    return [pb.Header(key=k) if v is None else pb.Header(key=k, value=v) for k, v in headers]


def headers_from_pb(headers: Iterable[pb.Header]) -> Headers:
    return tuple((h.key, h.value if h.HasField("value") else None) for h in headers)


def record_to_pb(r: Record) -> pb.Record:
    msg = pb.Record(
        topic=r.topic,
        partition=r.partition,
        offset=r.offset,
        timestamp=r.timestamp,
        headers=headers_to_pb(r.headers),
    )
    if r.key is not None:
        msg.key = r.key
    if r.value is not None:
        msg.value = r.value
    return msg


def record_from_pb(m: pb.Record) -> Record:
    return Record(
        m.topic,
        m.partition,
        m.offset,
        m.timestamp,
        m.key if m.HasField("key") else None,
        m.value if m.HasField("value") else None,
        headers_from_pb(m.headers),
    )


def records_from_batches(topic: str, batches: Iterable[pb.RecordBatches]) -> list[Record]:
    """The records of RecordBatches messages; ``CorruptRecordError`` if one is damaged."""
    out: list[Record] = []
    for b in batches:
        try:
            out.extend(codec.decode_wire(b.data, topic, b.partition))
        except ValueError as exc:
            raise CorruptRecordError(
                f"records of {topic}/{b.partition} arrived damaged: {exc}"
            ) from None
    return out


def produce_item_from_pb(m: pb.ProduceRecord) -> Message:
    return Message(
        m.value if m.HasField("value") else None,
        m.key if m.HasField("key") else None,
        headers_from_pb(m.headers),
        m.partition if m.HasField("partition") else None,
        m.timestamp if m.HasField("timestamp") else None,
    )


def metadata_to_pb(m: RecordMetadata) -> pb.RecordMetadata:
    return pb.RecordMetadata(
        topic=m.topic, partition=m.partition, offset=m.offset, timestamp=m.timestamp
    )


def topic_info_to_pb(info: TopicInfo) -> pb.TopicInfo:
    return pb.TopicInfo(
        name=info.name,
        partitions=info.partitions,
        config={k: json.dumps(v) for k, v in info.config.items()},
    )


def topic_info_from_pb(m: pb.TopicInfo) -> TopicInfo:
    return TopicInfo(m.name, m.partitions, {k: json.loads(v) for k, v in m.config.items()})


def offsets_to_pb(offsets: dict[TopicPartition, int]) -> list[pb.PartitionOffset]:
    return [
        pb.PartitionOffset(topic=tp.topic, partition=tp.partition, offset=o)
        for tp, o in sorted(offsets.items())
    ]


def offsets_from_pb(items: Sequence[pb.PartitionOffset]) -> dict[TopicPartition, int]:
    return {TopicPartition(o.topic, o.partition): o.offset for o in items}


def lag_to_pb(x: PartitionLag) -> pb.PartitionLag:
    msg = pb.PartitionLag(topic=x.topic, partition=x.partition, end_offset=x.end_offset, lag=x.lag)
    if x.committed is not None:
        msg.committed = x.committed
    return msg


def lag_from_pb(m: pb.PartitionLag) -> PartitionLag:
    committed = m.committed if m.HasField("committed") else None
    return PartitionLag(m.topic, m.partition, committed, m.end_offset, m.lag)


def to_datetime(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def queue_settings_to_pb(settings: dict[str, Any]) -> pb.QueueSettings:
    """``broker.queue``'s keyword settings as a message (durations in milliseconds)."""
    msg = pb.QueueSettings()
    known = {"visibility_timeout", "max_receives", "dead_letter", "start"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise InvalidArgumentError(
            f"a queue takes {', '.join(sorted(known))}, not {', '.join(unknown)}"
        )
    if "visibility_timeout" in settings:
        msg.visibility_timeout_ms = parse_duration_ms(
            settings["visibility_timeout"], "visibility_timeout"
        )
    if "max_receives" in settings:
        msg.max_receives = settings["max_receives"]
    if settings.get("dead_letter"):
        msg.dead_letter = settings["dead_letter"]
    if "start" in settings:
        msg.start = settings["start"]
    return msg


def queue_settings_from_pb(m: pb.QueueSettings) -> dict[str, Any]:
    """The settings a message names, as ``broker.queue`` keywords."""
    out: dict[str, Any] = {}
    if m.HasField("visibility_timeout_ms"):
        out["visibility_timeout"] = m.visibility_timeout_ms
    if m.HasField("max_receives"):
        out["max_receives"] = m.max_receives
    if m.HasField("dead_letter"):
        out["dead_letter"] = m.dead_letter
    if m.HasField("start"):
        out["start"] = m.start
    return out
