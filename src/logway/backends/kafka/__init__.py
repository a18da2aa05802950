"""The Kafka backend: ``Broker`` on any Kafka-API cluster through confluent-kafka.

``kafka://host1:9092,host2:9092?security.protocol=SASL_SSL&sasl.mechanism=PLAIN``:
the hosts are the bootstrap servers; query parameters, keyword options (``_`` for
``.``) and ``LOGWAY_KAFKA_*`` environment variables (``LOGWAY_KAFKA_SASL_USERNAME``
is ``sasl.username``) pass through to librdkafka. The partitioner is Kafka's Java
default, murmur2 of the key (librdkafka's ``murmur2_random``), so a key lands on
the same partition as in the embedded log and in Java clients. Secrets never
appear in the URL this broker shows or in its errors.

This first part covers topics, producing, fetching, offsets and group commits;
consumers come next.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewTopic,
)

from logway.broker import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_RECORDS,
    BrokerBase,
    ProduceItem,
    ResetTo,
    check_fetch,
    check_start,
    offset_for_start,
)
from logway.errors import (
    ClosedError,
    InvalidArgumentError,
    LogwayError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    TopicExistsError,
    UnknownTopicError,
)
from logway.names import validate_group, validate_topic_name
from logway.records import (
    Message,
    Record,
    RecordMetadata,
    TopicInfo,
    TopicPartition,
    normalize_headers,
    to_bytes,
    to_millis,
)
from logway.units import parse_duration_ms, parse_size

TIMEOUT_S = 30.0
SECRET_WORDS = ("password", "secret", "key", "token")
# logway's topic settings and Kafka's names for them
DURATIONS = {"retention_ms": "retention.ms", "segment_ms": "segment.ms"}
SIZES = {
    "retention_bytes": "retention.bytes",
    "segment_bytes": "segment.bytes",
    "max_record_bytes": "max.message.bytes",
}


def open_url(url: str, **options: Any) -> KafkaBroker:
    rest = url.split(":", 1)[1]
    rest = rest[2:] if rest.startswith("//") else rest
    hosts, _, query = rest.partition("?")
    if not hosts:
        raise InvalidArgumentError(f"{_redact(url)!r} names no servers; use kafka://HOST:9092")
    config: dict[str, str] = {}
    for name, value in os.environ.items():
        if name.startswith("LOGWAY_KAFKA_"):
            config[name[len("LOGWAY_KAFKA_") :].lower().replace("_", ".")] = value
    config.update(parse_qsl(query, keep_blank_values=True))
    config.update({k.replace("_", "."): str(v) for k, v in options.items()})
    return KafkaBroker(hosts, config, url=_redact(url))


def _redact(url: str) -> str:
    """The URL without query values that look secret."""
    base, sep, query = url.partition("?")
    if not sep:
        return base
    parts = [
        f"{k}=***" if any(w in k.lower() for w in SECRET_WORDS) else f"{k}={v}"
        for k, v in parse_qsl(query, keep_blank_values=True)
    ]
    return f"{base}?{'&'.join(parts)}"


def _error(exc: BaseException, what: str) -> LogwayError:
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
    return LogwayError(message)


class KafkaBroker(BrokerBase):
    """A ``Broker`` on a Kafka cluster."""

    def __init__(self, servers: str, config: Mapping[str, str], *, url: str | None = None):
        self.url = url or f"kafka://{servers}"
        self._config: dict[str, str | int | float | bool] = {
            "bootstrap.servers": servers,
            **config,
        }
        self._admin = AdminClient(self._config)
        self._producer = Producer({**self._config, "partitioner": "murmur2_random", "linger.ms": 1})
        self._reader = self._group_client(f"logway-reader-{uuid.uuid4().hex[:12]}")
        self._committers: dict[str, Consumer] = {}
        self._lock = threading.Lock()
        self._closed = False

    def _group_client(self, group: str) -> Consumer:
        return Consumer(
            {
                **self._config,
                "group.id": group,
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "error",
            }
        )

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("the broker is closed")

    # --- topics ---------------------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 1, **config: Any) -> TopicInfo:
        self._check_open()
        validate_topic_name(name)
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise InvalidArgumentError(f"partitions must be an integer >= 1, not {partitions!r}")
        replication = int(config.pop("replication_factor", -1))
        settings = _kafka_config(config)
        topic = NewTopic(name, partitions, replication, config=settings)
        try:
            self._admin.create_topics([topic])[name].result(TIMEOUT_S)
        except KafkaException as exc:
            raise _error(exc, f"cannot create topic {name!r}") from None
        return TopicInfo(name, partitions, settings)

    def list_topics(self) -> list[str]:
        self._check_open()
        topics = self._admin.list_topics(timeout=TIMEOUT_S).topics
        return sorted(t for t in topics if t != "__consumer_offsets")

    def _count(self, topic: str) -> int:
        # all topics: asking for one by name lets a broker create it on the spot
        metadata = self._admin.list_topics(timeout=TIMEOUT_S).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise UnknownTopicError(f"unknown topic {topic!r}")
        return len(metadata.partitions)

    def describe_topic(self, name: str) -> TopicInfo:
        self._check_open()
        count = self._count(name)
        resource = ConfigResource(ConfigResource.Type.TOPIC, name)
        try:
            entries = self._admin.describe_configs([resource])[resource].result(TIMEOUT_S)
        except KafkaException:
            entries = {}  # some Kafka-API brokers do not describe configs
        config = {k: e.value for k, e in entries.items() if not e.is_default}
        return TopicInfo(name, count, config)

    def delete_topic(self, name: str) -> None:
        self._check_open()
        try:
            self._admin.delete_topics([name])[name].result(TIMEOUT_S)
        except KafkaException as exc:
            raise _error(exc, f"cannot delete topic {name!r}") from None

    # --- producing ------------------------------------------------------------------

    def produce_many(
        self, topic: str, records: Iterable[ProduceItem], partition: int | None = None
    ) -> Sequence[RecordMetadata]:
        self._check_open()
        items = [_message(item, i) for i, item in enumerate(records)]
        if not items:
            return []
        count = self._count(topic)
        done: list[RecordMetadata | None] = [None] * len(items)
        failures: list[BaseException] = []

        def delivered(i: int) -> Any:
            def report(err: KafkaError | None, msg: Any) -> None:
                if err is not None:
                    failures.append(KafkaException(err))
                else:
                    done[i] = RecordMetadata(
                        topic, msg.partition(), msg.offset(), msg.timestamp()[1]
                    )

            return report

        for i, m in enumerate(items):
            p = partition if partition is not None else m.partition
            if p is not None and not (isinstance(p, int) and 0 <= p < count):
                raise InvalidArgumentError(
                    f"record {i} asks for partition {p!r}; the topic has partitions "
                    f"0 to {count - 1}"
                )
            kwargs: dict[str, Any] = {"value": m.value, "key": m.key, "on_delivery": delivered(i)}
            if p is not None:
                kwargs["partition"] = p
            if m.headers:
                kwargs["headers"] = list(m.headers)
            if m.timestamp is not None:
                kwargs["timestamp"] = m.timestamp
            try:
                self._producer.produce(topic, **kwargs)
            except BufferError:
                self._producer.flush(TIMEOUT_S)
                self._producer.produce(topic, **kwargs)
            except KafkaException as exc:
                raise _error(exc, f"cannot produce to {topic!r}") from None
        self._producer.flush(TIMEOUT_S)
        if failures:
            raise _error(failures[0], f"cannot produce to {topic!r}")
        if any(m is None for m in done):
            raise LogwayError(f"records for {topic!r} were not confirmed in {TIMEOUT_S:g}s")
        return [m for m in done if m is not None]

    # --- reading --------------------------------------------------------------------

    def _watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        try:
            low, high = self._reader.get_watermark_offsets(
                KafkaTopicPartition(topic, partition), timeout=TIMEOUT_S
            )
        except KafkaException as exc:
            raise _error(exc, f"cannot read the offsets of {topic}/{partition}") from None
        return int(low), int(high)

    def fetch(
        self,
        topic: str,
        partition: int,
        offset: int,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> list[Record]:
        self._check_open()
        check_fetch(offset, max_records, max_bytes)
        count = self._count(topic)
        if not 0 <= partition < count:
            raise UnknownTopicError(f"topic {topic!r} has no partition {partition}")
        with self._lock:
            low, high = self._watermarks(topic, partition)
            if not low <= offset <= high:
                raise OffsetOutOfRangeError(
                    f"offset {offset} is out of range for {topic}/{partition}: valid offsets "
                    f"are {low} to {high} (start offset to end offset)"
                )
            if offset == high:
                return []
            self._reader.assign([KafkaTopicPartition(topic, partition, offset)])
            out: list[Record] = []
            size = 0
            try:
                while len(out) < max_records and (not out or size < max_bytes):
                    at = out[-1].offset + 1 if out else offset
                    want = min(max_records - len(out), high - at)  # consume waits for all
                    if want <= 0:
                        break
                    messages = self._reader.consume(want, timeout=TIMEOUT_S)
                    if not messages:
                        break
                    for m in messages:
                        failure = m.error()
                        if failure is not None:
                            if failure.code() == KafkaError._PARTITION_EOF:
                                return out
                            raise _error(KafkaException(failure), f"cannot fetch {topic}")
                        out.append(_record(m))
                        size += len(m.value() or b"") + len(m.key() or b"")
                    if out and out[-1].offset + 1 >= high:
                        break
            finally:
                self._reader.unassign()
            return out

    def start_offsets(self, topic: str) -> dict[int, int]:
        self._check_open()
        return {p: self._watermarks(topic, p)[0] for p in range(self._count(topic))}

    def end_offsets(self, topic: str) -> dict[int, int]:
        self._check_open()
        return {p: self._watermarks(topic, p)[1] for p in range(self._count(topic))}

    def offset_for_time(self, topic: str, partition: int, timestamp: Any) -> int | None:
        self._check_open()
        ms = to_millis(timestamp)
        if ms is None:
            raise InvalidArgumentError("offset_for_time needs a time")
        found = self._reader.offsets_for_times(
            [KafkaTopicPartition(topic, partition, ms)], timeout=TIMEOUT_S
        )[0]
        return None if found.offset < 0 else int(found.offset)

    # --- groups ---------------------------------------------------------------------

    def consumer(self, *args: Any, **kwargs: Any) -> Any:
        raise LogwayError("consumers on kafka:// are not available yet; use fetch for now")

    def _committer(self, group: str) -> Consumer:
        validate_group(group)
        client = self._committers.get(group)
        if client is None:
            client = self._committers[group] = self._group_client(group)
        return client

    def commit(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        self._check_open()
        listed = [KafkaTopicPartition(tp.topic, tp.partition, int(o)) for tp, o in offsets.items()]
        if not listed:
            return
        try:
            self._committer(group).commit(offsets=listed, asynchronous=False)
        except KafkaException as exc:
            raise _error(exc, f"cannot commit for group {group!r}") from None

    def committed(self, group: str, topic: str | None = None) -> dict[TopicPartition, int]:
        self._check_open()
        topics = [topic] if topic is not None else self.list_topics()
        wanted = [KafkaTopicPartition(t, p) for t in topics for p in range(self._count(t))]
        if not wanted:
            return {}
        found = self._committer(group).committed(wanted, timeout=TIMEOUT_S)
        return {TopicPartition(f.topic, f.partition): f.offset for f in found if f.offset >= 0}

    def list_groups(self) -> list[str]:
        self._check_open()
        listed = self._admin.list_consumer_groups().result(TIMEOUT_S)
        return sorted(
            g.group_id for g in listed.valid if not g.group_id.startswith("logway-reader-")
        )

    def reset_group(self, group: str, topic: str, to: ResetTo) -> dict[TopicPartition, int]:
        self._check_open()
        offsets = {}
        for p in range(self._count(topic)):
            low, high = self._watermarks(topic, p)
            if isinstance(to, bool):
                raise InvalidArgumentError(f"cannot reset a group to {to!r}")
            if isinstance(to, int):
                if not low <= to <= high:
                    raise OffsetOutOfRangeError(
                        f"offset {to} is out of range for {topic}/{p}: valid offsets are "
                        f"{low} to {high}"
                    )
                offsets[TopicPartition(topic, p)] = to
            else:
                check_start(to)
                offsets[TopicPartition(topic, p)] = offset_for_start(
                    self, TopicPartition(topic, p), to
                )
        self.commit(group, offsets)
        return offsets

    # --- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._producer.flush(TIMEOUT_S)
        self._reader.close()
        for client in self._committers.values():
            client.close()

    def __repr__(self) -> str:
        return f"KafkaBroker({self.url!r})"


def _message(item: Any, i: int) -> Message:
    """A ``produce_many`` item as a Message with bytes and milliseconds."""
    if item is None or isinstance(item, bytes | bytearray | memoryview | str):
        return Message(to_bytes(item))
    if not isinstance(item, tuple) or not 1 <= len(item) <= 5:
        raise InvalidArgumentError(
            "records must be bytes, str or Message(value, key, headers, partition, timestamp), "
            f"not {type(item).__name__}"
        )
    value, key, headers, partition, timestamp = (*item, None, None, None, None)[:5]
    try:
        return Message(
            to_bytes(value),
            to_bytes(key, "key"),
            normalize_headers(headers),
            partition,
            to_millis(timestamp),
        )
    except TypeError as exc:
        raise InvalidArgumentError(f"record {i}: {exc}") from None


def _record(m: Any) -> Record:
    headers = tuple((k, v) for k, v in (m.headers() or ()))
    return Record(
        m.topic(), m.partition(), m.offset(), m.timestamp()[1], m.key(), m.value(), headers
    )


def _kafka_config(config: Mapping[str, Any]) -> dict[str, str]:
    """Topic settings in Kafka's names and units."""
    out: dict[str, str] = {}
    for name, value in config.items():
        if name in DURATIONS:
            out[DURATIONS[name]] = str(parse_duration_ms(value, name))
        elif name in SIZES:
            out[SIZES[name]] = str(parse_size(value, name))
        elif name == "compression":
            out["compression.type"] = str(value)
        elif name == "fsync":
            raise InvalidArgumentError(
                "fsync is a setting of the embedded log; on Kafka durability comes from "
                "replication (replication_factor, min.insync.replicas)"
            )
        elif "." in name:
            out[name] = str(value)
        else:
            raise InvalidArgumentError(f"unknown topic setting {name!r} for Kafka")
    return out
