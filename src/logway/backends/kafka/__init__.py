"""The Kafka backend: ``Broker`` on any Kafka-API cluster through confluent-kafka.

``kafka://host1:9092,host2:9092?security.protocol=SASL_SSL&sasl.mechanism=PLAIN``:
the hosts are the bootstrap servers; query parameters, keyword options (``_`` for
``.``) and ``LOGWAY_KAFKA_*`` environment variables (``LOGWAY_KAFKA_SASL_USERNAME``
is ``sasl.username``) pass through to librdkafka. The partitioner is Kafka's Java
default, murmur2 of the key (librdkafka's ``murmur2_random``), so a key lands on
the same partition as in the embedded log and in Java clients. Secrets never
appear in the URL this broker shows or in its errors.

Consumers read through one client each, at positions they keep, and join groups with
Kafka's own coordinator (see ``consumer``).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, overload
from urllib.parse import parse_qsl

from confluent_kafka import Consumer, ConsumerGroupState, KafkaError, KafkaException, Producer
from confluent_kafka import TopicPartition as KafkaTopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from logway.backends.kafka.consumer import KafkaConsumer
from logway.backends.kafka.logs import ClientLog
from logway.backends.kafka.mapping import kafka_error, records_from_messages
from logway.broker import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_RECORDS,
    BrokerBase,
    ProduceItem,
    ResetTo,
    Start,
    check_fetch,
    check_start,
    consumer_arguments,
    offset_for_start,
)
from logway.errors import (
    ClosedError,
    InvalidArgumentError,
    LogwayError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    UnknownTopicError,
)
from logway.names import validate_group, validate_topic_name
from logway.records import (
    Headers,
    Message,
    Record,
    RecordMetadata,
    TopicInfo,
    TopicPartition,
    check_own_offsets,
    normalize_headers,
    to_bytes,
    to_millis,
)
from logway.topic_settings import (
    KAFKA_ALIASES,
    KAFKA_NAMES,
    SCHEMA_SETTINGS,
    convert_setting,
    kafka_value,
)

TIMEOUT_S = 30.0
LOOK_S = 1.0  # how long a request waits once the shared timeout is spent
# request failures that mean the cluster did not answer (rather than answered no)
NO_ANSWER = (
    KafkaError._TRANSPORT,
    KafkaError._TIMED_OUT,
    KafkaError._TIMED_OUT_QUEUE,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._RESOLVE,
)
SECRET_WORDS = ("password", "secret", "key", "token")
METADATA_TTL_S = 5.0  # how long a topic's partition count and size limit are trusted
KAFKA_MAX_MESSAGE_BYTES = 1048588  # Kafka's default max.message.bytes
MAX_REQUEST_BYTES = 64 << 20  # the largest produce request the client sends
BATCH_OVERHEAD = 61 + 21  # a record batch's header, and a record's largest framing
# librdkafka's consumer settings logway changes (the URL's options override them).
# Once a partition's fetched messages pass queued.min.messages (100,000), librdkafka
# fetches it again only after fetch.queue.backoff.ms, 1 s by default: a consumer that
# empties the queue faster than that waits idle, on a random share of its reads.
CONSUMER_DEFAULTS = {"fetch.queue.backoff.ms": 10}
READER_FETCH_WAIT_MS = 10  # the point reader's fetch.wait.max.ms (see KafkaBroker)
# librdkafka options that only consumers, or only producers, take (as prefixes)
CONSUMER_ONLY = (
    "group.",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "partition.assignment.strategy",
    "auto.offset.reset",
    "enable.auto.",
    "auto.commit.",
    "fetch.",
    "queued.",
    "isolation.level",
    "check.crcs",
    "enable.partition.eof",
)
PRODUCER_ONLY = (
    "acks",
    "request.required.acks",
    "linger.ms",
    "queue.buffering.",
    "batch.",
    "compression.",
    "enable.idempotence",
    "transactional.",
    "message.timeout.ms",
    "delivery.timeout.ms",
    "partitioner",
    "sticky.partitioning.",
    "retries",
    "message.send.max.retries",
)


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
    given = config.pop("timeout", None)  # logway's own: how long a call waits for the cluster
    try:
        timeout = TIMEOUT_S if given is None else float(given)
    except ValueError:
        timeout = -1.0
    if not timeout > 0:
        raise InvalidArgumentError(f"timeout must be a number of seconds > 0, not {given!r}")
    return KafkaBroker(hosts, config, url=_redact(url), timeout=timeout)


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


@dataclass
class _TopicMeta:
    count: int
    max_bytes: int
    expires: float
    settings: dict[str, str]  # those not at the cluster's defaults


ACTIVE_GROUP_STATES = (
    ConsumerGroupState.STABLE,
    ConsumerGroupState.PREPARING_REBALANCING,
    ConsumerGroupState.COMPLETING_REBALANCING,
)


class KafkaBroker(BrokerBase):
    """A ``Broker`` on a Kafka cluster."""

    def __init__(
        self,
        servers: str,
        config: Mapping[str, str],
        *,
        url: str | None = None,
        timeout: float = TIMEOUT_S,
    ):
        self.url = url or f"kafka://{servers}"
        self.timeout = timeout
        config = dict(config)
        # Confluent's client names for a schema registry: broker.schemas uses it
        self.schema_registry_url = config.pop("schema.registry.url", None)
        user_info = config.pop("schema.registry.basic.auth.user.info", None)
        if user_info:
            user, _, password = user_info.partition(":")
            self.schema_registry_credentials = {"user": user, "password": password}
        self._log = ClientLog()
        self._silent_since: float | None = None  # when requests began to get no answer
        self._config: dict[str, Any] = {
            "bootstrap.servers": servers,
            **config,
            "logger": self._log,
        }
        self._admin = AdminClient(self._client_config("admin"))
        self._producer = Producer(
            {
                "partitioner": "murmur2_random",
                "linger.ms": 1,
                # the cluster enforces each topic's max.message.bytes, and produce_many
                # checks it first; the client's own default (1,000,000) is below Kafka's
                "message.max.bytes": MAX_REQUEST_BYTES,
                **self._client_config("producer"),
            }
        )
        self._reader = self._group_client(
            f"logway-reader-{uuid.uuid4().hex[:12]}",
            # A point read asks only for records below the high watermark, so it never
            # needs a long poll; and the fetch librdkafka sends ahead when a read ends
            # waits at the broker for this long, holding back the next request on the
            # connection (a broker answers a connection's requests in order): with the
            # default 500 ms, every fetch or watermark after a fetch took half a second.
            {"fetch.wait.max.ms": READER_FETCH_WAIT_MS},
        )
        self._committers: dict[str, Consumer] = {}
        self._consumers: set[KafkaConsumer] = set()
        self._meta: dict[str, _TopicMeta] = {}
        self._round_robin = 0
        self._turns = threading.Lock()
        self._lock = threading.Lock()
        self._closed = False

    def _group_client(self, group: str, options: dict[str, Any] | None = None) -> Consumer:
        return Consumer(
            {
                **self._client_config("consumer"),
                "group.id": group,
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "error",
                **(options or {}),
            }
        )

    def _client_config(self, role: str) -> dict[str, Any]:
        """The options for one kind of client: without those only the others take,
        which librdkafka would otherwise warn about."""
        skip = {"admin": CONSUMER_ONLY + PRODUCER_ONLY, "producer": CONSUMER_ONLY}
        left_out = skip.get(role, PRODUCER_ONLY)
        config = {k: v for k, v in self._config.items() if not k.startswith(left_out)}
        return {**CONSUMER_DEFAULTS, **config} if role == "consumer" else config

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
            self._wait(self._admin.create_topics([topic])[name])
            self._meta.pop(name, None)
        except KafkaException as exc:
            raise kafka_error(exc, f"cannot create topic {name!r}") from None
        return TopicInfo(name, partitions, settings)

    def list_topics(self) -> list[str]:
        self._check_open()
        topics = self._metadata()
        return sorted(t for t in topics if t != "__consumer_offsets")

    def _topic(self, topic: str, fresh: bool = False) -> _TopicMeta:
        """A topic's partition count and record size limit, asked for at most every
        ``METADATA_TTL_S`` seconds unless ``fresh``."""
        now = time.monotonic()
        cached = self._meta.get(topic)
        if cached is not None and not fresh and cached.expires > now:
            return cached
        # all topics: asking for one by name lets a broker create it on the spot
        metadata = self._metadata().get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            self._meta.pop(topic, None)
            raise UnknownTopicError(f"unknown topic {topic!r}")
        entries = self._configs(topic)
        limit = entries.get("max.message.bytes")
        meta = _TopicMeta(
            len(metadata.partitions),
            int(limit.value) if limit is not None else KAFKA_MAX_MESSAGE_BYTES,
            now + METADATA_TTL_S,
            {k: e.value for k, e in entries.items() if not e.is_default},
        )
        self._meta[topic] = meta
        return meta

    @contextmanager
    def _asking(self) -> Iterator[float]:
        """Around a request to the cluster: gives how long it may wait, and turns
        no answer into a ``LogwayError`` that names the URL and librdkafka's reason.

        Requests share ``timeout`` from the first that got no answer until one gets
        an answer, so a command fails within ``timeout`` however many requests it
        makes; once it is spent each request still waits ``LOOK_S``, so that a
        process that goes on sees the cluster come back."""
        started = time.monotonic()
        silent = self._silent_since
        wait = self.timeout if silent is None else silent + self.timeout - started
        try:
            yield max(wait, min(LOOK_S, self.timeout))
        except (KafkaException, TimeoutError) as exc:
            if isinstance(exc, KafkaException) and _code(exc) not in NO_ANSWER:
                self._silent_since = None  # it answered, with an error
                raise
            if self._silent_since is None:
                self._silent_since = started
            raise self._no_answer(exc, silent if silent is not None else started) from None
        finally:
            self._admin.poll(0)  # its log lines come only with poll
        self._silent_since = None

    def _no_answer(self, exc: BaseException, since: float) -> LogwayError:
        self._producer.poll(0)  # so that its log lines are in
        reason = self._log.problem_since(since)
        if reason is None:
            reason = _reason(exc) or "no answer"
        return LogwayError(
            f"the cluster at {self.url} did not answer within {self.timeout:g}s: {reason}"
        )

    def _wait(self, future: Any) -> Any:
        """An admin request's answer; a cluster that does not answer in time is an
        error like any other."""
        with self._asking() as wait:
            return future.result(wait)

    def _metadata(self) -> dict[str, Any]:
        with self._asking() as wait:
            return dict(self._admin.list_topics(timeout=wait).topics)

    def _configs(self, topic: str) -> dict[str, Any]:
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        try:
            return dict(self._wait(self._admin.describe_configs([resource])[resource]))
        except KafkaException:
            return {}  # some Kafka-API brokers do not describe configs

    def _count(self, topic: str, partition: int | None = None) -> int:
        """The partition count; fresh when ``partition`` is beyond what is known, as
        partitions may have been added since."""
        count = self._topic(topic).count
        if partition is not None and partition >= count:
            count = self._topic(topic, fresh=True).count
        return count

    def describe_topic(self, name: str) -> TopicInfo:
        self._check_open()
        meta = self._topic(name, fresh=True)
        return TopicInfo(name, meta.count, _logway_config(meta.settings))

    def add_partitions(self, topic: str, total: int) -> None:
        self._check_open()
        if isinstance(total, bool) or not isinstance(total, int):
            raise InvalidArgumentError(f"a partition count must be an integer, not {total!r}")
        current = self._topic(topic, fresh=True).count
        if total <= current:
            raise InvalidArgumentError(
                f"topic {topic!r} has {current} partitions and a count only grows: ask for "
                f"more than {current} (not {total}); nothing was changed"
            )
        try:
            self._wait(self._admin.create_partitions([NewPartitions(topic, total)])[topic])
            with self._asking() as wait:  # the producer learns of the new partitions now
                self._producer.list_topics(topic, timeout=wait)
        except KafkaException as exc:
            raise kafka_error(exc, f"cannot grow topic {topic!r} to {total} partitions") from None
        finally:
            self._meta.pop(topic, None)

    def delete_topic(self, name: str) -> None:
        self._check_open()
        try:
            self._wait(self._admin.delete_topics([name])[name])
            self._meta.pop(name, None)
        except KafkaException as exc:
            raise kafka_error(exc, f"cannot delete topic {name!r}") from None

    # --- producing ------------------------------------------------------------------

    def produce_many(
        self, topic: str, records: Iterable[ProduceItem], partition: int | None = None
    ) -> Sequence[RecordMetadata]:
        """Send the records and wait until the cluster confirmed each one. They are
        all checked first (partition, size), so a bad one sends nothing."""
        self._check_open()
        meta = self._topic(topic)
        if partition is not None:
            self._check_partition(topic, partition, "the batch")
        room = meta.max_bytes - BATCH_OVERHEAD  # for key, value and headers
        items: list[Any] = records if isinstance(records, list) else list(records)
        if not items:
            return []
        sent: list[Any] = [None] * len(items)
        failures: list[KafkaError] = []

        def report(i: int, err: KafkaError | None, msg: Any) -> None:
            if err is None:
                sent[i] = msg
            else:
                failures.append(err)

        produce, n = self._producer.produce, len(items)
        if set(map(type, items)) == {bytes}:  # the common case, kept short
            sizes = list(map(len, items))
            if max(sizes) > room:
                i = next(i for i, size in enumerate(sizes) if size > room)
                raise _too_large(topic, i, sizes[i] + BATCH_OVERHEAD, meta.max_bytes)
            count, base = meta.count, self._take_round_robin(n)

            def send(start: int) -> int:
                """Enqueue from ``start``; returns where the client's queue was full."""
                i = start
                try:
                    if partition is None:
                        for i in range(start, n):
                            produce(topic, items[i], None, (base + i) % count, partial(report, i))
                    else:
                        for i in range(start, n):
                            produce(topic, items[i], None, partition, partial(report, i))
                except BufferError:
                    return i
                return n

        else:
            plan = self._plan(topic, meta, items, partition, room)

            def send(start: int) -> int:
                i = start
                try:
                    for i in range(start, n):
                        value, key, p, timestamp, headers = plan[i]
                        produce(
                            topic,
                            value,
                            key,
                            p,
                            on_delivery=partial(report, i),
                            timestamp=timestamp,
                            headers=list(headers) if headers else None,
                        )
                except BufferError:
                    return i
                return n

        at = 0
        try:
            while at < n:
                at = send(at)
                if at < n and self._producer.flush(self.timeout):  # full: let it drain
                    raise LogwayError(f"the producer's queue stays full for {topic!r}")
        except KafkaException as exc:
            raise kafka_error(exc, f"cannot produce to {topic!r}") from None
        self._producer.flush(self.timeout)
        if failures:
            raise kafka_error(KafkaException(failures[0]), f"cannot produce to {topic!r}")
        if None in sent:
            raise LogwayError(f"records for {topic!r} were not confirmed in {self.timeout:g}s")
        return _Delivered(topic, sent)

    def write_at(self, topic: str, partition: int, records: Sequence[Record]) -> None:
        """A Kafka cluster numbers records itself, from the partition's end offset on:
        so records keep their offsets here only when the first one is at the end offset
        and the others follow without holes. Anything else is refused before sending.
        Records someone else produces meanwhile would take the offsets: that is reported
        (the records were written, at other offsets)."""
        self._check_open()
        check_own_offsets(records)
        if not records:
            return
        if not 0 <= partition < self._count(topic, partition):
            raise UnknownTopicError(f"topic {topic!r} has no partition {partition}")
        end = self._watermarks(topic, partition)[1]
        first = records[0].offset
        if first != end:
            raise InvalidArgumentError(
                f"cannot write offset {first} to {topic}/{partition} on Kafka: a Kafka cluster "
                f"numbers records itself, so the next record gets the end offset {end}; "
                "records keep their offsets only when the first is at the end offset"
            )
        last = records[-1].offset
        if last - first != len(records) - 1:
            hole = next(
                i for i in range(1, len(records)) if records[i].offset != records[i - 1].offset + 1
            )
            raise InvalidArgumentError(
                f"cannot write to {topic}/{partition} on Kafka: offsets jump from "
                f"{records[hole - 1].offset} to {records[hole].offset}, and a Kafka cluster "
                "numbers records without holes; records keep their offsets only when they "
                "follow each other"
            )
        sent = self.produce_many(
            topic,
            [Message(r.value, r.key, r.headers, partition, r.timestamp) for r in records],
        )
        for record, meta in zip(records, sent, strict=True):
            if meta.offset != record.offset:
                raise LogwayError(
                    f"record {record.offset} for {topic}/{partition} was written at offset "
                    f"{meta.offset}: another producer wrote to the partition meanwhile (the "
                    f"records from offset {first} on are written, not all at their offsets)"
                )

    def _plan(
        self, topic: str, meta: _TopicMeta, items: list[Any], partition: int | None, room: int
    ) -> list[tuple[bytes | None, bytes | None, int, int, Any]]:
        """Each record checked and normalised: value, key, partition (-1: by key),
        timestamp (0: now) and headers."""
        plan = []
        for i, item in enumerate(items):
            value, key, headers, chosen, timestamp = _message(item, i)
            if partition is not None:
                chosen = partition
            elif chosen is not None:
                self._check_partition(topic, chosen, f"record {i}")
            elif key is None:  # keyless: round robin, as the embedded log does
                chosen = self._take_round_robin(1) % meta.count
            size = len(value or b"") + len(key or b"")
            if headers:
                size += sum(len(k.encode()) + len(v or b"") + 10 for k, v in headers)
            if size > room:
                raise _too_large(topic, i, size + BATCH_OVERHEAD, meta.max_bytes)
            plan.append(
                (value, key, -1 if chosen is None else chosen, timestamp or 0, headers or None)
            )
        return plan

    def _take_round_robin(self, n: int) -> int:
        """The first of ``n`` round-robin turns for keyless records."""
        with self._turns:
            first, self._round_robin = self._round_robin, self._round_robin + n
        return first

    def _check_partition(self, topic: str, partition: Any, what: str) -> None:
        if isinstance(partition, bool) or not isinstance(partition, int) or partition < 0:
            raise InvalidArgumentError(f"{what} asks for partition {partition!r}")
        count = self._count(topic, partition)
        if partition >= count:
            raise InvalidArgumentError(
                f"{what} asks for partition {partition}; the topic has partitions 0 to {count - 1}"
            )

    # --- reading --------------------------------------------------------------------

    def _watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        try:
            with self._asking() as wait:
                low, high = self._reader.get_watermark_offsets(
                    KafkaTopicPartition(topic, partition), timeout=wait
                )
        except KafkaException as exc:
            raise kafka_error(exc, f"cannot read the offsets of {topic}/{partition}") from None
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
        if not 0 <= partition < self._count(topic, partition):
            raise UnknownTopicError(f"topic {topic!r} has no partition {partition}")
        with self._lock:
            low, high = self._watermarks(topic, partition)
            OffsetOutOfRangeError.check(topic, partition, offset, low, high)
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
                    messages = self._reader.consume(want, timeout=self.timeout)
                    if not messages:
                        break
                    records, failed = records_from_messages(messages)
                    for record in records:
                        if out and size >= max_bytes:  # a soft limit, as Kafka's
                            return out
                        out.append(record)
                        size += len(record.value or b"") + len(record.key or b"")
                    if failed >= 0:
                        failure = messages[failed].error()
                        if failure is None or failure.code() == KafkaError._PARTITION_EOF:
                            return out
                        raise kafka_error(KafkaException(failure), f"cannot fetch {topic}")
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
        with self._asking() as wait:
            found = self._reader.offsets_for_times(
                [KafkaTopicPartition(topic, partition, ms)], timeout=wait
            )[0]
        return None if found.offset < 0 else int(found.offset)

    # --- groups ---------------------------------------------------------------------

    def consumer(
        self,
        topics: str | Sequence[str],
        group: str | None = None,
        start: Start = "earliest",
        *,
        idle_timeout: float | None = None,
        assignor: str = "range",
        partitions: Sequence[TopicPartition] | None = None,
        auto_reset: bool = True,
    ) -> KafkaConsumer:
        self._check_open()
        names, counts, manual = consumer_arguments(
            topics, group, start, assignor, partitions, self._count
        )
        consumer = KafkaConsumer(
            self, names, counts, group, start, idle_timeout, assignor, manual, auto_reset
        )
        with self._lock:
            self._consumers.add(consumer)
        return consumer

    def _group_active(self, group: str) -> bool:
        """Whether the group has members now (by its state: some Kafka-API brokers
        list no members)."""
        try:
            found = self._wait(self._admin.describe_consumer_groups([group])[group])
        except KafkaException:
            return False
        return bool(found.members) or found.state in ACTIVE_GROUP_STATES

    def _forget(self, consumer: KafkaConsumer) -> None:
        with self._lock:
            self._consumers.discard(consumer)

    def _committer(self, group: str) -> Consumer:
        validate_group(group)
        client = self._committers.get(group)
        if client is None:
            client = self._committers[group] = self._group_client(group)
        return client

    def commit(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit as an administrator would: a cluster takes this only while the group
        has no active members (members commit through their consumers)."""
        self._check_open()
        validate_group(group)
        listed = []
        for tp, offset in offsets.items():
            topic, partition = tp
            if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
                raise InvalidArgumentError(
                    f"offset to commit must be an integer >= 0, not {offset!r}"
                )
            if not 0 <= partition < self._count(topic, partition):
                raise UnknownTopicError(f"topic {topic!r} has no partition {partition}")
            end = self._watermarks(topic, partition)[1]
            if offset > end:
                raise OffsetOutOfRangeError(
                    f"cannot commit offset {offset} for {topic}/{partition}: the end offset "
                    f"is {end}"
                )
            listed.append(KafkaTopicPartition(topic, partition, offset))
        if not listed:
            return
        try:
            self._committer(group).commit(offsets=listed, asynchronous=False)
        except KafkaException as exc:
            raise kafka_error(exc, f"cannot commit for group {group!r}") from None

    def committed(self, group: str, topic: str | None = None) -> dict[TopicPartition, int]:
        self._check_open()
        topics = [topic] if topic is not None else self.list_topics()
        wanted = [KafkaTopicPartition(t, p) for t in topics for p in range(self._count(t))]
        if not wanted:
            return {}
        with self._asking() as wait:
            found = self._committer(group).committed(wanted, timeout=wait)
        return {TopicPartition(f.topic, f.partition): f.offset for f in found if f.offset >= 0}

    def list_groups(self) -> list[str]:
        self._check_open()
        listed = self._wait(self._admin.list_consumer_groups())
        return sorted(
            g.group_id for g in listed.valid if not g.group_id.startswith("logway-reader-")
        )

    def reset_group(self, group: str, topic: str, to: ResetTo) -> dict[TopicPartition, int]:
        self._check_open()
        if isinstance(to, bool):
            raise InvalidArgumentError(f"cannot reset a group to {to!r}")
        if not isinstance(to, int):
            check_start(to)
        offsets = {}
        for p in range(self._count(topic)):
            tp = TopicPartition(topic, p)
            if isinstance(to, int):
                OffsetOutOfRangeError.check(topic, p, to, *self._watermarks(topic, p))
                offsets[tp] = to
            else:
                offsets[tp] = offset_for_start(self, tp, to)
        self.commit(group, offsets)
        return offsets

    # --- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            consumers = list(self._consumers)
        for consumer in consumers:
            consumer.close()
        self._producer.flush(self.timeout)
        self._reader.close()
        for client in self._committers.values():
            client.close()

    def __repr__(self) -> str:
        return f"KafkaBroker({self.url!r})"


class _Delivered(Sequence[RecordMetadata]):
    """The metadata of delivered records, read from the client's delivery reports as
    it is asked for (a batch's caller often needs none of it)."""

    def __init__(self, topic: str, reports: list[Any]):
        self._topic = topic
        self._reports = reports

    def __len__(self) -> int:
        return len(self._reports)

    @overload
    def __getitem__(self, i: int) -> RecordMetadata: ...

    @overload
    def __getitem__(self, i: slice) -> list[RecordMetadata]: ...

    def __getitem__(self, i: int | slice) -> RecordMetadata | list[RecordMetadata]:
        if isinstance(i, slice):
            return [self._metadata(m) for m in self._reports[i]]
        return self._metadata(self._reports[i])

    def __iter__(self) -> Iterator[RecordMetadata]:
        return map(self._metadata, self._reports)

    def _metadata(self, m: Any) -> RecordMetadata:
        return RecordMetadata(self._topic, m.partition(), m.offset(), m.timestamp()[1])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(list(self))


def _code(exc: KafkaException) -> Any:
    err = exc.args[0] if exc.args else None
    return err.code() if isinstance(err, KafkaError) else None


def _reason(exc: BaseException) -> str:
    err = exc.args[0] if exc.args else None
    return str(err.str()) if isinstance(err, KafkaError) else str(exc)


def _too_large(topic: str, i: int, size: int, limit: int) -> RecordTooLargeError:
    return RecordTooLargeError(
        f"record {i} is {size} bytes as a record batch; topic {topic!r} takes at most "
        f"{limit} bytes (max.message.bytes)"
    )


def _message(
    item: Any, i: int
) -> tuple[bytes | None, bytes | None, Headers, int | None, int | None]:
    """A ``produce_many`` item as value, key, headers, partition and milliseconds."""
    if item is None or isinstance(item, bytes | bytearray | memoryview | str):
        return to_bytes(item), None, (), None, None
    if not isinstance(item, tuple) or not 1 <= len(item) <= 5:
        raise InvalidArgumentError(
            "records must be bytes, str or Message(value, key, headers, partition, timestamp), "
            f"not {type(item).__name__}"
        )
    value, key, headers, partition, timestamp = (*item, None, None, None, None)[:5]
    try:
        return (
            to_bytes(value),
            to_bytes(key, "key"),
            normalize_headers(headers),
            partition,
            to_millis(timestamp),
        )
    except TypeError as exc:
        raise InvalidArgumentError(f"record {i}: {exc}") from None


def _logway_config(config: Mapping[str, str]) -> dict[str, Any]:
    """A topic's Kafka settings, those logway knows in its own names and units."""
    out: dict[str, Any] = {}
    for name, value in config.items():
        ours = KAFKA_ALIASES.get(name)
        if ours == "compression":
            out[ours] = "none" if value == "uncompressed" else value
        elif ours == "timestamp_type" or ours in SCHEMA_SETTINGS:
            out[ours] = convert_setting(ours, value)
        elif ours is not None:
            out[ours] = int(value)
        else:
            out[name] = value
    return out


def _kafka_config(config: Mapping[str, Any]) -> dict[str, str]:
    """Topic settings in Kafka's names and units, checked as every backend checks
    them; other dotted names pass through for the cluster to check."""
    out: dict[str, str] = {}
    for given, value in config.items():
        name = KAFKA_ALIASES.get(given, given)
        if name in ("fsync", "fsync_interval_ms"):
            raise InvalidArgumentError(
                f"{given} is a setting of the embedded log; on Kafka durability comes from "
                "replication (replication_factor, min.insync.replicas)"
            )
        if name in SCHEMA_SETTINGS:
            raise InvalidArgumentError(
                f"{given} is checked by logway's own log (file:, logway serve); a Kafka "
                "cluster does not check it (Confluent Server's "
                "confluent.value.schema.validation does)"
            )
        if name in KAFKA_NAMES:
            out[KAFKA_NAMES[name]] = kafka_value(name, convert_setting(name, value))
        elif "." in name:
            out[name] = str(value)
        else:
            raise InvalidArgumentError(f"unknown topic setting {given!r} for Kafka")
    return out
