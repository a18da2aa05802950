"""Produce (API 0) and InitProducerId (API 22).

The client's RecordBatch v2 bytes are stored as sent: ``append_batches`` checks
framing and CRCs, assigns offsets by rewriting base offsets and keeps compressed
batches compressed. ``acks=0`` gets no response (Kafka sends none); ``acks=1`` and
``acks=all`` are answered once the topic's fsync policy is met, which on one node is
the same moment.
"""

from __future__ import annotations

import logging
from typing import Any

from kio.schema.errors import ErrorCode

from logway import errors
from logway.broker import append_batches
from logway.recordbatch import codec
from logway.server.kafka import wire
from logway.server.kafka.door import Door
from logway.server.kafka.errors import code_for

log = logging.getLogger("logway.server.kafka")
PRODUCE = 0
INIT_PRODUCER_ID = 22


def _append(door: Door, topic: str, partition: int, data: bytes) -> tuple[ErrorCode, int, str]:
    """One partition's batches: ``(error, base offset, message)``."""
    try:
        found = codec.scan_batches(data, verify_crc=False)
    except ValueError as exc:
        return ErrorCode.corrupt_message, -1, str(exc)
    if not found:
        return ErrorCode.invalid_record, -1, "no record batch"
    if any(h.attributes & (codec.TRANSACTIONAL | codec.CONTROL) for _, h in found):
        return (
            ErrorCode.unsupported_for_message_format,
            -1,
            "logway does not store transactions; turn transactions off in the producer",
        )
    broker = door.broker
    try:
        if all(h.producer_id < 0 for _, h in found):
            return ErrorCode.none, append_batches(broker, topic, partition, data), ""
        first_offset = -1
        view = memoryview(data)
        for pos, h in found:
            batch = view[pos : pos + h.size]
            table = door.producers
            if h.producer_id < 0:
                offset = append_batches(broker, topic, partition, batch)
            else:
                error, stored = table.check(
                    topic,
                    partition,
                    h.producer_id,
                    h.producer_epoch,
                    h.base_sequence,
                    h.record_count,
                )
                if error != ErrorCode.none:
                    return error, -1, ""
                if stored is not None:
                    offset = stored
                else:
                    offset = append_batches(broker, topic, partition, batch)
                    table.appended(
                        topic,
                        partition,
                        h.producer_id,
                        h.producer_epoch,
                        h.base_sequence,
                        h.record_count,
                        offset,
                    )
            if first_offset < 0:
                first_offset = offset
        return ErrorCode.none, first_offset, ""
    except errors.InvalidArgumentError as exc:
        if isinstance(exc, errors.RecordTooLargeError):
            return ErrorCode.message_too_large, -1, str(exc)
        return ErrorCode.corrupt_message, -1, str(exc)
    except Exception as exc:
        return code_for(exc), -1, str(exc)


def _append_all(
    door: Door, request: Any
) -> list[tuple[str, list[tuple[int, ErrorCode, int, str]]]]:
    out = []
    for topic in request.topic_data:
        parts = []
        for p in topic.partition_data:
            if p.records is None:
                parts.append((p.index, ErrorCode.invalid_record, -1, "no records"))
                continue
            error, offset, message = _append(door, topic.name, p.index, p.records)
            parts.append((p.index, error, offset, message))
        out.append((topic.name, parts))
    return out


async def handle_produce(door: Door, version: int, request: Any) -> Any:
    if request.transactional_id is not None:
        results = [
            (
                t.name,
                [
                    (p.index, ErrorCode.unsupported_for_message_format, -1, "no transactions")
                    for p in t.partition_data
                ],
            )
            for t in request.topic_data
        ]
    else:
        results = await door.run(_append_all, door, request)
    if request.acks == 0:
        return None
    k = PRODUCE
    return wire.make(
        k,
        version,
        "ProduceResponse",
        responses=tuple(
            wire.make(
                k,
                version,
                "TopicProduceResponse",
                name=name,
                partition_responses=tuple(
                    wire.make(
                        k,
                        version,
                        "PartitionProduceResponse",
                        index=index,
                        error_code=error,
                        base_offset=offset,
                        log_append_time=None,
                        log_start_offset=-1,
                        record_errors=(),
                        error_message=message or None,
                    )
                    for index, error, offset, message in parts
                ),
            )
            for name, parts in results
        ),
        throttle_time=wire.NO_THROTTLE,
        node_endpoints=(),
    )


async def handle_init_producer_id(door: Door, version: int, request: Any) -> Any:
    k = INIT_PRODUCER_ID
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
