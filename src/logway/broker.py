"""The ``Broker`` protocol every feature is written against, and ``connect()``.

A backend implements ``Broker`` (and its ``Consumer``) on some log: the embedded
one on a local directory, later ones on a logway server or a Kafka cluster. A
URL picks the backend by scheme; backends register themselves in ``SCHEMES``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol, Self, runtime_checkable

from logway import records
from logway.errors import (
    InvalidArgumentError,
    TopicExistsError,
    UnknownGroupError,
    UnknownSchemeError,
    UnknownTopicError,
)
from logway.recordbatch import codec
from logway.records import (
    HeadersInput,
    Message,
    PartitionLag,
    Record,
    RecordMetadata,
    TopicInfo,
    TopicPartition,
    to_millis,
)

DEFAULT_DATA_DIR = "./logway-data"
Start = Literal["earliest", "latest"] | dt.datetime
ResetTo = Start | int  # an int is an offset
ProduceItem = bytes | str | Message | tuple[Any, ...] | None
DEFAULT_MAX_RECORDS = 500
DEFAULT_MAX_BYTES = 1 << 20
BULK_RECORDS = 100_000  # records per fetch when max_bytes should be what limits it


@runtime_checkable
class Consumer(Protocol):
    """Reads records of some topics in order per partition, at its own pace.

    With a ``group`` the partitions are shared with the group's other members and
    positions start from the group's committed offsets; ``partitions`` instead
    assigns exactly those (Kafka's ``assign``), with the group used only for
    commits. Iteration blocks for new records (until ``close()``, or
    ``idle_timeout`` seconds without any). When a position falls out of the log
    (retention deleted it), ``auto_reset`` moves it to the start offset as Kafka's
    ``auto.offset.reset`` does; ``auto_reset=False`` raises ``OffsetOutOfRangeError``.
    A consumer is used by one thread at a time; ``close()`` may come from any."""

    def __iter__(self) -> Iterator[Record]: ...
    def __aiter__(self) -> AsyncIterator[Record]: ...
    def poll(
        self, timeout: float | None = 0.0, max_records: int = DEFAULT_MAX_RECORDS
    ) -> list[Record]: ...
    async def apoll(
        self, timeout: float | None = 0.0, max_records: int = DEFAULT_MAX_RECORDS
    ) -> list[Record]: ...
    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None: ...
    def position(self) -> dict[TopicPartition, int]: ...
    def seek(self, partition: TopicPartition, offset: int) -> None: ...
    def assignment(self) -> list[TopicPartition]: ...
    def lag(self) -> dict[TopicPartition, int]: ...
    def close(self) -> None: ...
    def __enter__(self) -> Consumer: ...
    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class Broker(Protocol):
    """A partitioned, durable log of topics with consumer groups."""

    url: str

    @property
    def schemas(self) -> Any:
        """The schema registry (``logway.schemas.typed.Schemas``)."""

    # topics
    def create_topic(self, name: str, partitions: int = 1, **config: Any) -> TopicInfo: ...
    def list_topics(self) -> list[str]: ...
    def describe_topic(self, name: str) -> TopicInfo: ...
    def delete_topic(self, name: str) -> None: ...

    # producing
    def produce(
        self,
        topic: str,
        value: Any,
        key: Any = None,
        headers: HeadersInput = None,
        partition: int | None = None,
        timestamp: int | dt.datetime | None = None,
    ) -> RecordMetadata: ...
    def produce_many(
        self,
        topic: str,
        records: Iterable[ProduceItem],
        partition: int | None = None,
    ) -> Sequence[RecordMetadata]: ...
    def write_at(self, topic: str, partition: int, records: Sequence[Record]) -> None:
        """Append records keeping their own offsets (and timestamps, keys, values,
        headers), as a restore or a replica does: offsets increase, the first is >= the
        partition's end offset, and an empty partition begins at the first record's
        offset. ``InvalidArgumentError`` if that cannot be; nothing is written then."""
        ...

    # reading
    def fetch(
        self,
        topic: str,
        partition: int,
        offset: int,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> list[Record]: ...
    def start_offsets(self, topic: str) -> dict[int, int]: ...
    def end_offsets(self, topic: str) -> dict[int, int]: ...
    def offset_for_time(
        self, topic: str, partition: int, timestamp: int | dt.datetime
    ) -> int | None: ...

    # consumers and groups
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
    ) -> Consumer: ...
    def commit(self, group: str, offsets: Mapping[TopicPartition, int]) -> None: ...
    def committed(self, group: str, topic: str | None = None) -> dict[TopicPartition, int]: ...
    def list_groups(self) -> list[str]: ...
    def lag(self, group: str, topic: str | None = None) -> list[PartitionLag]: ...
    def reset_group(self, group: str, topic: str, to: ResetTo) -> dict[TopicPartition, int]: ...

    # queues
    def queue(self, topic: str, group: str, **settings: Any) -> Any:
        """A consumer of the queue ``group`` over ``topic`` (``logway.queues.Queue``)."""

    def close(self) -> None: ...
    def __enter__(self) -> Broker: ...
    def __exit__(self, *exc: object) -> None: ...


# scheme -> "module:factory"; the factory takes the URL and keyword options
SCHEMES: dict[str, str] = {
    "file": "logway.datadir:open_url",  # embedded, or the owner's over its socket
    "memory": "logway.backends.embedded:open_url",
    "logway": "logway.backends.remote:open_url",
    "kafka": "logway.backends.kafka:open_url",
}


def connect(url: str | None = None, **options: Any) -> Broker:
    """Open a broker. No URL means ``$LOGWAY_URL``, else an embedded log at
    ``./logway-data``. ``file:PATH`` is an embedded log on disk and ``memory:`` one
    in a temporary directory removed on close."""
    if url is None:
        url = os.environ.get("LOGWAY_URL") or f"file:{DEFAULT_DATA_DIR}"
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    target = SCHEMES.get(scheme)
    if target is None:
        known = ", ".join(f"{s}:" for s in SCHEMES)
        raise UnknownSchemeError(
            f"cannot connect to {url!r}: unknown scheme {scheme or '(none)'!r}; known schemes: "
            f"{known} (for example file:./logway-data or memory:)"
        )
    module, _, factory = target.partition(":")
    broker: Broker = getattr(importlib.import_module(module), factory)(url, **options)
    return broker


def offset_for_start(broker: Broker, tp: TopicPartition, start: Start | int) -> int:
    """Where ``start`` is on a partition: its start offset for "earliest", its end
    offset for "latest", else the first record at or after that time (a datetime or
    milliseconds; the end offset when there is none)."""
    if start == "earliest":
        return broker.start_offsets(tp.topic)[tp.partition]
    end = broker.end_offsets(tp.topic)[tp.partition]
    if start == "latest":
        return end
    found = broker.offset_for_time(tp.topic, tp.partition, start)
    return end if found is None else found


def group_position(
    broker: Broker,
    group: str,
    tp: TopicPartition,
    start: Start | int,
    commit: Callable[[dict[TopicPartition, int]], None],
) -> int:
    """Where a group goes on in a partition: its committed offset, else ``start``
    (committed at once, so that "latest" means the moment the group first read).
    A committed offset that retention has since removed moves on to the first record
    left, with a warning naming what was lost."""
    committed = broker.committed(group, tp.topic).get(tp)
    if committed is not None:
        first = broker.start_offsets(tp.topic)[tp.partition]
        if committed >= first:
            return committed
        logging.getLogger("logway").warning(
            "%s: %s/%d: records %d to %d expired (retention) before they were read; "
            "going on from %d",
            group,
            tp.topic,
            tp.partition,
            committed,
            first - 1,
            first,
        )
        commit({tp: first})
        return first
    offset = offset_for_start(broker, tp, start)
    commit({tp: offset})
    return offset


def ensure_topic(broker: Broker, name: str, partitions: int = 1, **config: Any) -> None:
    """Create ``name`` unless it exists (or another process creates it meanwhile)."""
    if name in broker.list_topics():
        return
    try:
        broker.create_topic(name, partitions, **config)
    except TopicExistsError:
        pass


def check_fetch(offset: object, max_records: int, max_bytes: int) -> None:
    """Refuse fetch arguments no backend can serve."""
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise InvalidArgumentError(f"offset must be an integer, not {offset!r}")
    if max_records < 1 or max_bytes < 1:
        raise InvalidArgumentError("max_records and max_bytes must be at least 1")


def check_start(start: object) -> None:
    """Refuse a consumer start point that is not one of the three kinds."""
    if start in ("earliest", "latest") or isinstance(start, dt.datetime):
        return
    raise InvalidArgumentError(f"start must be 'earliest', 'latest' or a datetime, not {start!r}")


def check_starting_position(start: object) -> None:
    """Refuse a group's ``starting_position`` (of a function or a delivery) that is not
    'latest', 'earliest', a datetime or milliseconds since the epoch."""
    if start in ("latest", "earliest"):
        return
    try:
        if start is None or isinstance(start, bool | str):
            raise TypeError(start)
        to_millis(start)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidArgumentError(
            "starting_position must be 'latest', 'earliest', a datetime or "
            f"milliseconds since the epoch, not {start!r}"
        ) from None


_SCHEMAS_LOCK = threading.Lock()


class BrokerBase:
    """Protocol methods every backend writes the same way, in terms of the others, and
    the bulk paths ``read_batches``/``write_batches`` a backend may do faster."""

    # ``append_batches(..., sync=False)`` only writes to local files (no network, no
    # fsync): quick enough to call from an event loop
    quick_appends = False
    _schemas: Any = None
    # a schema registry's REST API to use instead of the one in this broker's log
    schema_registry_url: str | None = None
    schema_registry_credentials: dict[str, Any] = {}  # replaced, never changed in place

    @property
    def schemas(self) -> Any:
        """This broker's schema registry (``logway.schemas.typed.Schemas``), kept in
        its ``__logway_schemas`` topic; made when first used."""
        if self._schemas is None:
            from logway.schemas.typed import RemoteSchemas, Schemas  # features over this

            with _SCHEMAS_LOCK:
                if self._schemas is None:
                    url = self.schema_registry_url
                    self._schemas = (
                        Schemas(self)  # type: ignore[arg-type]
                        if url is None
                        else RemoteSchemas(url, **self.schema_registry_credentials)
                    )
                    records.default_schemas = self._schemas  # for Record.decode()
        return self._schemas

    def queue(self, topic: str, group: str, **settings: Any) -> Any:
        """A consumer of the queue ``group`` over ``topic`` (``logway.queues``):
        records delivered one consumer at a time, settled with ack, release or reject.
        ``visibility_timeout`` (default "30s"), ``max_receives`` (5), ``dead_letter``
        (``TOPIC-dlq``), ``start`` ("latest") apply when this process first opens the
        queue; consumers opened later share it."""
        from logway.queues.queue import Queue, QueueGroup, QueueSettings  # features over this

        checked = QueueSettings.build(topic, **settings)
        with _SCHEMAS_LOCK:
            groups = self.__dict__.setdefault("_queue_groups", {})
            shared = groups.get((topic, group))
            if shared is None:
                self.describe_topic(topic)  # type: ignore[attr-defined]  # a clear error
                shared = groups[(topic, group)] = QueueGroup(
                    self,  # type: ignore[arg-type]
                    topic,
                    group,
                    checked,
                )
            elif settings and shared.settings != checked:
                raise InvalidArgumentError(
                    f"queue {group!r} over {topic!r} is open in this process with "
                    f"{shared.settings}; open it with the same settings (or none)"
                )
        return Queue(shared)

    def open_queues(self) -> list[Any]:
        """The queues ``queue`` opened in this process (``QueueGroup``s: those a server
        holds for its clients and those queue functions read), for ``/metrics``."""
        with _SCHEMAS_LOCK:
            return list(self.__dict__.get("_queue_groups", {}).values())

    def fetch(
        self,
        topic: str,
        partition: int,
        offset: int,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> list[Record]:
        raise NotImplementedError

    def write_at(self, topic: str, partition: int, records: Sequence[Record]) -> None:
        raise NotImplementedError

    def read_batches(
        self,
        topic: str,
        partition: int,
        offset: int,
        max_bytes: int = DEFAULT_MAX_BYTES,
        whole: bool = False,
    ) -> bytes:
        """The records from ``offset`` on as whole Kafka RecordBatch v2 batches carrying
        their own offsets: at least one batch when there are records, more while under
        ``max_bytes`` (b"" at the end offset). For moving a partition in bulk (backups)
        and Kafka's Fetch; a backend that stores batches hands them over as stored (with
        ``whole``, a first batch that begins before ``offset`` too), this default
        encodes what ``fetch`` returns."""
        records = self.fetch(topic, partition, offset, BULK_RECORDS, max_bytes)
        return codec.encode_wire(records)

    def write_batches(
        self, topic: str, partition: int, data: bytes | bytearray | memoryview
    ) -> None:
        """``write_at`` for records given as whole RecordBatch v2 batches laid back to
        back (what ``read_batches`` returns); this default decodes them."""
        self.write_at(topic, partition, decode_batches(topic, partition, data))

    def append_batches(
        self,
        topic: str,
        partition: int,
        data: bytes | bytearray | memoryview,
        sync: bool = True,
    ) -> tuple[int, int]:
        """Produce records given as whole RecordBatch v2 batches (what a Kafka producer
        sends): they get the next offsets of the partition, keep their timestamps, keys
        and headers. Returns the first one's offset and the time the log stamped them
        with on a LogAppendTime topic (else -1). ``sync=False``: they may not be durable
        until ``sync`` (so one sync serves many appends). A backend that stores batches
        keeps them as sent; this default decodes them."""
        records = decode_batches(topic, partition, data)
        if not records:
            raise InvalidArgumentError(f"no record for {topic}/{partition}; nothing was written")
        items = [Message(r.value, r.key, r.headers, partition, r.timestamp) for r in records]
        produced = self.produce_many(topic, items, partition=partition)
        stamp = getattr(produced, "log_append_time", None)
        return produced[0].offset, -1 if stamp is None else stamp

    def add_partitions(self, topic: str, total: int) -> None:
        """Grow ``topic`` to ``total`` partitions, as Kafka's CreatePartitions does: the
        count only grows, records stay where they are, and keys map anew (murmur2 mod the
        new count). ``InvalidArgumentError`` for a count not above the current one; this
        default, for backends that cannot, refuses every call."""
        raise InvalidArgumentError(
            f"cannot add partitions to topic {topic!r}: this backend ({type(self).__name__}) "
            "does not add partitions; nothing was changed (grow the topic where its log is "
            "kept: on the embedded log, or on Kafka)"
        )

    def sync(self, topic: str, partition: int) -> None:
        """Make the partition's appends made with ``sync=False`` as durable as the topic
        asks; this default has nothing to do (its appends are durable on return)."""

    def watch(
        self, topic: str, partition: int, callback: Callable[[], None]
    ) -> Callable[[], None] | None:
        """Call ``callback`` (from any thread) after each append to the partition, until
        the returned function is called; None when the backend cannot tell, and a
        waiting reader looks again from time to time."""
        return None

    def produce_many(
        self, topic: str, records: Iterable[ProduceItem], partition: int | None = None
    ) -> Sequence[RecordMetadata]:
        raise NotImplementedError

    def committed(self, group: str, topic: str | None = None) -> dict[TopicPartition, int]:
        raise NotImplementedError

    def start_offsets(self, topic: str) -> dict[int, int]:
        raise NotImplementedError

    def end_offsets(self, topic: str) -> dict[int, int]:
        raise NotImplementedError

    def lag(self, group: str, topic: str | None = None) -> list[PartitionLag]:
        """Per partition of the group's topics (or ``topic``): end offset - committed
        (from the start offset where the group has committed nothing)."""
        committed = self.committed(group, topic)
        if topic is None and not committed:
            raise UnknownGroupError(f"consumer group {group!r} has no committed offsets")
        out = []
        for name in [topic] if topic is not None else sorted({tp.topic for tp in committed}):
            try:
                starts, ends = self.start_offsets(name), self.end_offsets(name)
            except UnknownTopicError:  # deleted since the group committed
                continue
            for p, end in sorted(ends.items()):
                done = committed.get(TopicPartition(name, p))
                base = starts[p] if done is None else done
                out.append(PartitionLag(name, p, done, end, max(0, end - base)))
        return out

    def close(self) -> None:
        raise NotImplementedError

    def produce(
        self,
        topic: str,
        value: Any,
        key: Any = None,
        headers: HeadersInput = None,
        partition: int | None = None,
        timestamp: int | dt.datetime | None = None,
    ) -> RecordMetadata:
        """A value or key that is not bytes, str or None (a generated Protobuf message,
        say) is written in the schema registry's wire format, under the topic's
        ``value_schema`` / ``key_schema`` subject or ``TOPIC-value`` / ``TOPIC-key``."""
        if not isinstance(value, bytes | str | None):
            value = self.schemas.encode(schema_subject(self, topic, "value"), value)  # type: ignore[arg-type]
        if not isinstance(key, bytes | str | None):
            key = self.schemas.encode(schema_subject(self, topic, "key"), key)  # type: ignore[arg-type]
        return self.produce_many(topic, [Message(value, key, headers, partition, timestamp)])[0]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def schema_subject(broker: Broker, topic: str, part: str = "value") -> str:
    """The schema registry subject of a topic's values (``part="key"``: keys): its
    ``value_schema`` / ``key_schema`` setting, else Confluent's TopicNameStrategy
    (``TOPIC-value``)."""
    named = broker.describe_topic(topic).config.get(f"{part}_schema")
    return str(named) if named else f"{topic}-{part}"


def read_batches(
    broker: Broker,
    topic: str,
    partition: int,
    offset: int,
    max_bytes: int = DEFAULT_MAX_BYTES,
    whole: bool = False,
) -> bytes:
    """``BrokerBase.read_batches`` on any ``Broker``: the backend's own bulk path if it
    has one, else its records encoded."""
    if isinstance(broker, BrokerBase):
        return broker.read_batches(topic, partition, offset, max_bytes, whole)
    return codec.encode_wire(broker.fetch(topic, partition, offset, BULK_RECORDS, max_bytes))


def write_batches(
    broker: Broker, topic: str, partition: int, data: bytes | bytearray | memoryview
) -> None:
    """``BrokerBase.write_batches`` on any ``Broker``."""
    if isinstance(broker, BrokerBase):
        broker.write_batches(topic, partition, data)
    else:
        broker.write_at(topic, partition, decode_batches(topic, partition, data))


def append_batches(
    broker: Broker,
    topic: str,
    partition: int,
    data: bytes | bytearray | memoryview,
    sync: bool = True,
) -> tuple[int, int]:
    """``BrokerBase.append_batches`` on any ``Broker``."""
    if isinstance(broker, BrokerBase):
        return broker.append_batches(topic, partition, data, sync)
    return BrokerBase.append_batches(broker, topic, partition, data)  # type: ignore[arg-type]


def add_partitions(broker: Broker, topic: str, total: int) -> None:
    """``BrokerBase.add_partitions`` on any ``Broker``."""
    if isinstance(broker, BrokerBase):
        broker.add_partitions(topic, total)
    else:
        BrokerBase.add_partitions(broker, topic, total)  # type: ignore[arg-type]


def can_add_partitions(broker: Broker) -> bool:
    """Whether ``broker``'s backend adds partitions (not ``BrokerBase``'s refusal)."""
    method = getattr(type(broker), "add_partitions", None)
    return method is not None and method is not BrokerBase.add_partitions


def decode_batches(
    topic: str, partition: int, data: bytes | bytearray | memoryview
) -> list[Record]:
    try:
        return codec.decode_wire(bytes(data), topic, partition)
    except ValueError as exc:
        raise InvalidArgumentError(
            f"batches for {topic}/{partition}: {exc}; nothing was written"
        ) from None


def consumer_arguments(
    topics: str | Sequence[str],
    group: str | None,
    start: object,
    assignor: str,
    partitions: Sequence[TopicPartition] | None,
    partition_count: Callable[[str], int],
) -> tuple[list[str], dict[str, int], list[TopicPartition] | None]:
    """Check what ``Broker.consumer`` was given; returns the topic names, their
    partition counts and the manual assignment (if any)."""
    from logway.assignors import assignor as check_assignor
    from logway.names import validate_group

    names = [topics] if isinstance(topics, str) else list(topics)
    if not names:
        raise InvalidArgumentError("a consumer needs at least one topic")
    counts = {name: partition_count(name) for name in names}
    if group is not None:
        validate_group(group)
    check_start(start)
    check_assignor(assignor)
    manual = None
    if partitions is not None:
        manual = [TopicPartition(*tp) for tp in partitions]
        for tp in manual:
            if tp.topic not in counts:
                raise InvalidArgumentError(f"partition {tp} is not of the topics {names}")
            if not 0 <= tp.partition < counts[tp.topic]:
                raise UnknownTopicError(
                    f"topic {tp.topic!r} has partitions 0 to {counts[tp.topic] - 1}; there is "
                    f"no partition {tp.partition}"
                )
    return names, counts, manual
