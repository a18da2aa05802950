"""Kafka's errors and messages in logway's terms."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError

from logway.errors import (
    InvalidArgumentError,
    LogwayError,
    RecordTooLargeError,
    TopicExistsError,
    UnknownTopicError,
)
from logway.recordbatch import codec
from logway.records import Record


def kafka_error(exc: BaseException, what: str) -> LogwayError:
    """The logway error for a Kafka failure, with the broker's message."""
    err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
    code = err.code() if err is not None else None
    message = f"{what}: {err.str() if err is not None else exc}"
    if code in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
        return UnknownTopicError(message)
    if code == KafkaError.TOPIC_ALREADY_EXISTS:
        return TopicExistsError(message)
    if code in (KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE):
        return RecordTooLargeError(message)
    if code in (
        KafkaError.INVALID_PARTITIONS,
        KafkaError.INVALID_CONFIG,
        KafkaError.INVALID_REPLICATION_FACTOR,
        KafkaError.TOPIC_EXCEPTION,
        KafkaError.POLICY_VIOLATION,
    ):
        return InvalidArgumentError(message)
    if code in (KafkaError.UNKNOWN_MEMBER_ID, KafkaError.ILLEGAL_GENERATION):
        return InvalidArgumentError(
            f"{message} (the group has active consumers: commit through them, or stop them first)"
        )
    return LogwayError(message)


def py_records_from_messages(messages: Sequence[Any]) -> tuple[list[Record], int]:
    """Messages as Records, up to the first with an error; returns the Records and
    that message's index (-1 when none has one). ``_speedups`` has the same in C."""
    out: list[Record] = []
    for i, m in enumerate(messages):
        if m.error() is not None:
            return out, i
        out.append(record_from_message(m))
    return out, -1


records_from_messages: Callable[[Sequence[Any]], tuple[list[Record], int]] = (
    py_records_from_messages
)
if codec.ACCELERATED:  # the C loop, when the codec's are built and wanted
    from logway import _speedups

    records_from_messages = _speedups.records_from_messages


def record_from_message(m: Any) -> Record:
    """A confluent-kafka message as a Record."""
    headers = tuple((k, v) for k, v in (m.headers() or ()))
    return Record(
        m.topic(), m.partition(), m.offset(), m.timestamp()[1], m.key(), m.value(), headers
    )
