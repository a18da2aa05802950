"""Fetch (API 1) and ListOffsets (API 2).

Fetch hands out batches as the segments hold them, never decoded: whole batches
from the one holding the fetch offset (the client skips the records before it), at
least one batch for the first partition with data even past ``max_bytes``, as Kafka
does so a large batch cannot stall a consumer. With less than ``min_bytes`` ready
the request waits up to ``max_wait`` for an append to one of its partitions.

Fetch sessions (KIP-227) are declined by answering session id 0, so every fetch is a
full one. There are no transactions, so the last stable offset is the end offset
and ``read_committed`` reads the same as ``read_uncommitted``.

With authentication on, the partitions of a topic the caller may not read (Fetch) or
describe (ListOffsets) are answered TOPIC_AUTHORIZATION_FAILED, and not read.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from kio.schema.errors import ErrorCode
from kio.static.primitive import Records

from logway import errors
from logway.broker import read_batches
from logway.records import TopicPartition
from logway.server.kafka import permissions, wire
from logway.server.kafka.door import Door
from logway.server.kafka.errors import code_for

FETCH = 1
LIST_OFFSETS = 2
EARLIEST, LATEST, MAX_TIMESTAMP = -2, -1, -3


class _Part:
    __slots__ = ("data", "end", "error", "start")

    def __init__(self, error: ErrorCode, start: int, end: int, data: bytes):
        self.error, self.start, self.end, self.data = error, start, end, data


def _read(door: Door, wanted: list[tuple[str, int, int, int]], max_bytes: int) -> list[_Part]:
    broker = door.broker
    out: list[_Part] = []
    budget = max_bytes
    ends: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
    for topic, partition, offset, part_max in wanted:
        try:
            if topic not in ends:
                ends[topic] = (broker.start_offsets(topic), broker.end_offsets(topic))
            starts, finals = ends[topic]
            if partition not in finals:
                raise errors.UnknownTopicError(f"{topic}/{partition}")
            start, end = starts[partition], finals[partition]
            if offset < start or offset > end:
                out.append(_Part(ErrorCode.offset_out_of_range, start, end, b""))
                continue
            data = b""
            if offset < end and (budget > 0 or not any(p.data for p in out)):
                limit = max(1, min(part_max, budget))
                data = read_batches(broker, topic, partition, offset, limit, whole=True)
                budget -= len(data)
            out.append(_Part(ErrorCode.none, start, end, data))
        except errors.OffsetOutOfRangeError:
            out.append(_Part(ErrorCode.offset_out_of_range, -1, -1, b""))
        except Exception as exc:
            out.append(_Part(code_for(exc), -1, -1, b""))
    return out


_NOT_AUTHORIZED = _Part(ErrorCode.topic_authorization_failed, -1, -1, b"")


def _read_allowed(
    door: Door, wanted: list[tuple[str, int, int, int]], max_bytes: int, denied: set[str]
) -> list[_Part]:
    """``_read`` of the partitions whose topics are not ``denied``; the others are
    answered TOPIC_AUTHORIZATION_FAILED."""
    got = iter(_read(door, [w for w in wanted if w[0] not in denied], max_bytes))
    return [_NOT_AUTHORIZED if w[0] in denied else next(got) for w in wanted]


def _waits(request: Any, parts: list[_Part], deadline: float, door: Door) -> bool:
    """Whether the fetch waits for more: less than ``min_bytes`` ready, no error, time
    left and the listener not stopping."""
    return (
        sum(len(p.data) for p in parts) < max(request.min_bytes, 1)
        and deadline > time.monotonic()
        and all(p.error == ErrorCode.none for p in parts)
        and bool(parts)
        and not door.stopping.is_set()
    )


async def handle_fetch(door: Door, version: int, request: Any) -> Any:
    wanted = [
        (t.topic, p.partition, p.fetch_offset, p.partition_max_bytes)
        for t in request.topics
        for p in t.partitions
    ]
    max_bytes = getattr(request, "max_bytes", 0x7FFFFFFF)
    deadline = time.monotonic() + request.max_wait.total_seconds()
    read: Callable[[Door, list[tuple[str, int, int, int]], int], list[_Part]] = _read
    if door.secured:
        topics = (t.topic for t in request.topics)
        denied = permissions.refused(door, permissions.READ, permissions.TOPIC, topics)
        if denied:
            read = functools.partial(_read_allowed, denied=denied)
    parts = await door.run(read, door, wanted, max_bytes)
    if _waits(request, parts, deadline, door):
        # watched before reading again: an append between that read and the wait
        # wakes the wait at once
        watch = door.watch([TopicPartition(t, p) for t, p, _o, _m in wanted])
        try:
            while True:
                parts = await door.run(read, door, wanted, max_bytes)
                if not _waits(request, parts, deadline, door):
                    break
                await watch.wait(deadline - time.monotonic())
        finally:
            watch.close()
    k = FETCH
    it = iter(parts)
    responses = []
    for t in request.topics:
        partitions = []
        for p in t.partitions:
            got = next(it)
            partitions.append(
                wire.make(
                    k,
                    version,
                    "PartitionData",
                    partition_index=p.partition,
                    error_code=got.error,
                    high_watermark=got.end,
                    last_stable_offset=got.end,
                    log_start_offset=got.start,
                    aborted_transactions=None if version >= 4 else (),
                    preferred_read_replica=-1,
                    records=Records(got.data),
                )
            )
        responses.append(
            wire.make(
                k, version, "FetchableTopicResponse", topic=t.topic, partitions=tuple(partitions)
            )
        )
    return wire.make(
        k,
        version,
        "FetchResponse",
        throttle_time=wire.NO_THROTTLE,
        error_code=ErrorCode.none,
        session_id=0,
        responses=tuple(responses),
    )


def _offsets(door: Door, asked: list[tuple[str, int, int]]) -> list[tuple[ErrorCode, int, int]]:
    broker = door.broker
    out = []
    for topic, partition, ts in asked:
        try:
            starts, ends = broker.start_offsets(topic), broker.end_offsets(topic)
            if partition not in ends:
                raise errors.UnknownTopicError(f"{topic}/{partition}")
            if ts == EARLIEST:
                out.append((ErrorCode.none, -1, starts[partition]))
            elif ts == LATEST:
                out.append((ErrorCode.none, -1, ends[partition]))
            elif ts == MAX_TIMESTAMP:
                # the newest record stands for the largest timestamp (they rarely go back)
                if ends[partition] > starts[partition]:
                    last = broker.fetch(topic, partition, ends[partition] - 1, 1)
                    out.append((ErrorCode.none, last[0].timestamp, last[0].offset))
                else:
                    out.append((ErrorCode.none, -1, -1))
            elif ts < 0:
                out.append((ErrorCode.invalid_request, -1, -1))
            else:
                found = broker.offset_for_time(topic, partition, ts)
                if found is None:
                    out.append((ErrorCode.none, -1, -1))
                else:
                    first = broker.fetch(topic, partition, found, 1)
                    stamp = first[0].timestamp if first else -1
                    out.append((ErrorCode.none, stamp, found))
        except Exception as exc:
            out.append((code_for(exc), -1, -1))
    return out


async def _offsets_allowed(
    door: Door, request: Any, asked: list[tuple[str, int, int]]
) -> list[tuple[ErrorCode, int, int]]:
    """``_offsets`` of the topics the caller may describe; TOPIC_AUTHORIZATION_FAILED
    for the others."""
    topics = (t.name for t in request.topics)
    denied = permissions.refused(door, permissions.DESCRIBE, permissions.TOPIC, topics)
    got = iter(await door.run(_offsets, door, [a for a in asked if a[0] not in denied]))
    refused = (ErrorCode.topic_authorization_failed, -1, -1)
    return [refused if a[0] in denied else next(got) for a in asked]


async def handle_list_offsets(door: Door, version: int, request: Any) -> Any:
    asked = [(t.name, p.partition_index, p.timestamp) for t in request.topics for p in t.partitions]
    if door.secured:
        found = iter(await _offsets_allowed(door, request, asked))
    else:
        found = iter(await door.run(_offsets, door, asked))
    k = LIST_OFFSETS
    topics = []
    for t in request.topics:
        parts = []
        for p in t.partitions:
            error, stamp, offset = next(found)
            parts.append(
                wire.make(
                    k,
                    version,
                    "ListOffsetsPartitionResponse",
                    partition_index=p.partition_index,
                    error_code=error,
                    timestamp=stamp,
                    offset=offset,
                    leader_epoch=-1,
                )
            )
        topics.append(
            wire.make(k, version, "ListOffsetsTopicResponse", name=t.name, partitions=tuple(parts))
        )
    return wire.make(
        k, version, "ListOffsetsResponse", throttle_time=wire.NO_THROTTLE, topics=tuple(topics)
    )
