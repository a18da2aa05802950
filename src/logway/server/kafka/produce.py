"""Produce (API 0) and InitProducerId (API 22).

The client's RecordBatch v2 bytes are stored as sent: ``append_batches`` checks
framing and CRCs, assigns offsets by rewriting base offsets and keeps compressed
batches compressed. ``acks=0`` gets no response (Kafka sends none); ``acks=1`` and
``acks=all`` are answered once the topic's fsync policy is met, which on one node is
the same moment.

With authentication on, a topic the caller may not write is answered
TOPIC_AUTHORIZATION_FAILED for each of its partitions and nothing is appended to it;
InitProducerId asks for WRITE on some topic (``permissions.writes_some_topic``) and
is otherwise answered CLUSTER_AUTHORIZATION_FAILED, as Kafka 3.0+ answers.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, NamedTuple

from kio.schema.errors import ErrorCode

from logway import errors
from logway.broker import append_batches
from logway.recordbatch import codec
from logway.records import TopicPartition
from logway.server.kafka import permissions, produce_response, wire
from logway.server.kafka.door import Deferred, Door
from logway.server.kafka.errors import code_for

log = logging.getLogger("logway.server.kafka")
PRODUCE = 0
INIT_PRODUCER_ID = 22


class Appended(NamedTuple):
    """One partition's answer: its error, the first offset, the time a LogAppendTime
    topic stamped the records with (-1 otherwise) and a message for errors."""

    error: ErrorCode
    offset: int = -1
    append_time: int = -1
    message: str = ""


def _append(door: Door, topic: str, partition: int, data: bytes) -> Appended:
    try:
        found = codec.scan_batches(data, verify_crc=False)
    except ValueError as exc:
        return Appended(ErrorCode.corrupt_message, message=str(exc))
    if not found:
        return Appended(ErrorCode.invalid_record, message="no record batch")
    if any(h.attributes & (codec.TRANSACTIONAL | codec.CONTROL) for _, h in found):
        return Appended(
            ErrorCode.unsupported_for_message_format,
            message="logway does not store transactions; turn transactions off in the producer",
        )
    broker = door.broker
    try:
        if all(h.producer_id < 0 for _, h in found):
            return Appended(ErrorCode.none, *append_batches(broker, topic, partition, data, False))
        first = Appended(ErrorCode.none)
        view = memoryview(data)
        table = door.producers
        for pos, h in found:
            batch = view[pos : pos + h.size]
            if h.producer_id < 0:
                offset, stamp = append_batches(broker, topic, partition, batch, False)
            else:
                seq = (topic, partition, h.producer_id, h.producer_epoch, h.base_sequence)
                error, stored = table.check(*seq, h.record_count)
                if error != ErrorCode.none:
                    return Appended(error)
                if stored is not None:  # a retried batch: answered as the first time
                    offset, stamp = stored, -1
                else:
                    offset, stamp = append_batches(broker, topic, partition, batch, False)
                    table.appended(*seq, h.record_count, offset)
            if first.offset < 0:
                first = Appended(ErrorCode.none, offset, stamp)
        return first
    except errors.RecordTooLargeError as exc:
        return Appended(ErrorCode.message_too_large, message=str(exc))
    except errors.InvalidRecordError as exc:  # a topic's schema refused a record
        return Appended(ErrorCode.invalid_record, message=str(exc))
    except errors.InvalidArgumentError as exc:
        return Appended(ErrorCode.corrupt_message, message=str(exc))
    except Exception as exc:
        return Appended(code_for(exc), message=str(exc))


def _append_all(door: Door, request: Any) -> list[tuple[str, list[tuple[int, Appended]]]]:
    out = []
    for topic in request.topic_data:
        parts = []
        for p in topic.partition_data:
            if p.records is None:
                parts.append((p.index, Appended(ErrorCode.invalid_record, message="no records")))
            else:
                parts.append((p.index, _append(door, topic.name, p.index, p.records)))
        out.append((topic.name, parts))
    return out


INLINE_BYTES = 256 * 1024  # produce requests up to this size append in the event loop


def _size(request: Any) -> int:
    return sum(len(p.records or b"") for t in request.topic_data for p in t.partition_data)


Results = list[tuple[str, list[tuple[int, Appended]]]]
_NOT_AUTHORIZED = Appended(ErrorCode.topic_authorization_failed)


def _authorize(door: Door, request: Any) -> tuple[Any, Results]:
    """The request without the topics the caller may not write, and their answers."""
    denied = permissions.refused(
        door, permissions.WRITE, permissions.TOPIC, (t.name for t in request.topic_data)
    )
    if not denied:
        return request, []
    refused = [
        (t.name, [(p.index, _NOT_AUTHORIZED) for p in t.partition_data])
        for t in request.topic_data
        if t.name in denied
    ]
    kept = tuple(t for t in request.topic_data if t.name not in denied)
    return dataclasses.replace(request, topic_data=kept), refused


async def handle_produce(door: Door, version: int, request: Any) -> Any:
    """Appended in request order; with acks=all the response waits, without holding up
    the connection's next requests, for a sync that covers the records (shared with
    every produce meanwhile). acks=1 is answered once appended, as Kafka's leader
    answers before its followers have the records; acks=0 gets no answer."""
    not_authorized: Results = []
    if door.secured:
        request, not_authorized = _authorize(door, request)
    if request.transactional_id is not None:
        refused = Appended(ErrorCode.unsupported_for_message_format, message="no transactions")
        results = [
            (t.name, [(p.index, refused) for p in t.partition_data]) for t in request.topic_data
        ]
    elif door.quick_appends and _size(request) <= INLINE_BYTES:
        results = _append_all(door, request)  # to the page cache: less than a thread hop
    else:
        results = await door.run(_append_all, door, request)
    if request.acks == 0:
        return None
    if not_authorized:
        results += not_authorized
    if request.acks == 1:
        return _response(version, results)
    return Deferred(_when_durable(door, version, results))


async def _when_durable(
    door: Door, version: int, results: list[tuple[str, list[tuple[int, Appended]]]]
) -> Any:
    written = {
        TopicPartition(name, index)
        for name, parts in results
        for index, got in parts
        if got.error == ErrorCode.none
    }
    failed: dict[TopicPartition, str] = {}
    for tp in written:
        try:
            await door.durable(tp)
        except Exception as exc:  # the disk refused the sync: the records may not last
            log.error("cannot make %s durable: %s", tp, exc)
            failed[tp] = str(exc)
    if failed:
        results = [
            (
                name,
                [
                    (i, Appended(ErrorCode.kafka_storage_error, message=failed[tp]))
                    if (tp := TopicPartition(name, i)) in failed
                    else (i, got)
                    for i, got in parts
                ],
            )
            for name, parts in results
        ]
    return _response(version, results)


def _response(version: int, results: list[tuple[str, list[tuple[int, Appended]]]]) -> wire.Body:
    topics = [
        (name, [(i, int(a.error), a.offset, a.append_time, a.message) for i, a in parts])
        for name, parts in results
    ]
    return wire.Body(PRODUCE, version, produce_response.encode(version, topics))


async def handle_init_producer_id(door: Door, version: int, request: Any) -> Any:
    k = INIT_PRODUCER_ID
    if (
        door.secured
        and request.transactional_id is None
        and not permissions.writes_some_topic(door)
    ):
        return wire.make(
            k,
            version,
            "InitProducerIdResponse",
            throttle_time=wire.NO_THROTTLE,
            error_code=ErrorCode.cluster_authorization_failed,
            producer_id=-1,
            producer_epoch=-1,
        )
    if request.transactional_id is not None:
        return wire.make(
            k,
            version,
            "InitProducerIdResponse",
            throttle_time=wire.NO_THROTTLE,
            error_code=ErrorCode.unsupported_for_message_format,
            producer_id=-1,
            producer_epoch=-1,
        )
    pid, epoch = door.producers.new_producer(
        getattr(request, "producer_id", -1), getattr(request, "producer_epoch", -1)
    )
    return wire.make(
        k,
        version,
        "InitProducerIdResponse",
        throttle_time=wire.NO_THROTTLE,
        error_code=ErrorCode.none,
        producer_id=pid,
        producer_epoch=epoch,
    )
