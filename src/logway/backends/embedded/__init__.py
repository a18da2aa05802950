"""The embedded backend: ``Broker`` on a local data directory (``file:PATH``) or a
temporary one (``memory:``), in this process."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from logway.backends.embedded.consumer import EmbeddedConsumer
from logway.backends.embedded.coordinator import GroupCoordinator
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
    decode_batches,
    offset_for_start,
)
from logway.errors import (
    ClosedError,
    InvalidArgumentError,
    OffsetOutOfRangeError,
)
from logway.log import Log, TopicConfig
from logway.log.partition import now_ms
from logway.names import validate_group
from logway.partitioner import partition_for_key
from logway.records import (
    ProducedBatch,
    Record,
    TopicInfo,
    TopicPartition,
    to_millis,
)

_BYTES_LIKE = (bytes, bytearray, memoryview)


def url_path(url: str) -> str:
    """The directory a ``file:PATH`` (or ``file://PATH``) URL names."""
    rest = url.partition(":")[2]
    return rest[2:] if rest.startswith("//") else rest


def open_url(url: str, **options: Any) -> EmbeddedBroker:
    if url.partition(":")[0].lower() == "memory":
        return EmbeddedBroker(None, url=url, **options)
    path = url_path(url)
    if not path:
        raise InvalidArgumentError(
            f"{url!r} names no directory; use file:PATH, e.g. file:./logway-data"
        )
    return EmbeddedBroker(path, url=url, **options)


class EmbeddedBroker(BrokerBase):
    """A ``Broker`` over a ``logway.log.Log`` in this process.

    Options: ``fsync`` ("always", "interval", "never") and any other topic setting
    become the defaults of topics created here."""

    quick_appends = True

    def __init__(
        self, path: str | None, *, url: str | None = None, serve_at: str = "", **defaults: Any
    ):
        """``serve_at`` names, in the directory's lock file, where this process will
        serve the directory to others."""
        self._tmp = tempfile.mkdtemp(prefix="logway-memory-") if path is None else None
        self.path = self._tmp or path or "."
        self.url = url or f"file:{self.path}"
        env_fsync = os.environ.get("LOGWAY_FSYNC")
        if env_fsync and "fsync" not in defaults:
            defaults["fsync"] = env_fsync
        try:
            base = TopicConfig.build(1, **defaults)
            self._log = Log(self.path, defaults=base, serve_at=serve_at)
        except BaseException:
            if self._tmp:
                shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        self._coordinator = GroupCoordinator(lambda t: len(self._log.partitions(t)))
        self._consumers: set[EmbeddedConsumer] = set()
        self._round_robin = itertools.count()
        self._closed = False
        self._lock = threading.Lock()
        self._closing: list[Callable[[], None]] = []

    def on_close(self, stop: Callable[[], None]) -> None:
        """Run ``stop`` first when the broker closes (what serves it to others)."""
        self._closing.append(stop)

    # --- topics ---------------------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 1, **config: Any) -> TopicInfo:
        cfg = self._log.create_topic(name, partitions, **config)
        return _info(name, cfg)

    def list_topics(self) -> list[str]:
        self._check_open()
        return sorted(self._log.topics)

    def describe_topic(self, name: str) -> TopicInfo:
        parts = self._log.partitions(name)
        return _info(name, parts[0].config)

    def delete_topic(self, name: str) -> None:
        self._log.delete_topic(name)

    def add_partitions(self, topic: str, total: int) -> None:
        """Consumers of a group get the new partitions at their next poll (the group
        is rebalanced when a topic's count changes)."""
        self._log.add_partitions(topic, total)

    def _count(self, topic: str) -> int:
        return len(self._log.partitions(topic))

    # --- producing ------------------------------------------------------------------

    def produce_many(
        self,
        topic: str,
        records: Iterable[ProduceItem],
        partition: int | None = None,
    ) -> ProducedBatch:
        items = records if isinstance(records, list | tuple) else list(records)
        if not items:
            return ProducedBatch(topic, [], 0)
        parts = self._log.partitions(topic)
        n = len(parts)
        config = parts[0].config
        if config.value_schema is not None or config.key_schema is not None:
            self.schemas.check_produce(topic, config.key_schema, config.value_schema, items)
        default_ts = now_ms()
        stamped = config.timestamp_type == "log_append"
        result = ProducedBatch(topic, items, default_ts, stamped)
        if partition is not None:
            self._log.partition(topic, partition)  # validates the number
            base, *_ = self._log.append(topic, partition, items, default_ts)
            result.add(partition, base, None)
            return result
        groups = self._route(items, n)
        for p, indexes in groups.items():
            chosen = items if indexes is None else [items[i] for i in indexes]
            base, *_ = self._log.append(topic, p, chosen, default_ts)
            result.add(p, base, indexes)
        return result

    def write_at(self, topic: str, partition: int, records: Sequence[Record]) -> None:
        self._log.append_at(topic, partition, records)

    def write_batches(
        self, topic: str, partition: int, data: bytes | bytearray | memoryview
    ) -> None:
        """The batches are stored as they are (checked, not decoded)."""
        self._log.append_batches(topic, partition, data)

    def append_batches(
        self,
        topic: str,
        partition: int,
        data: bytes | bytearray | memoryview,
        sync: bool = True,
    ) -> tuple[int, int]:
        """The batches are stored as sent (checked, offsets assigned, not decoded
        unless the topic checks keys or values against schemas)."""
        config = self._log.partition(topic, partition).config
        if config.value_schema is not None or config.key_schema is not None:
            records = decode_batches(topic, partition, data)
            self.schemas.check_pairs(
                topic, config.key_schema, config.value_schema, ((r.key, r.value) for r in records)
            )
        return self._log.append_produced(topic, partition, data, sync)

    def sync(self, topic: str, partition: int) -> None:
        self._log.sync(topic, partition)

    def _route(self, items: Sequence[Any], n: int) -> dict[int, list[int] | None]:
        """Partition per record: explicit, else Kafka's murmur2 of the key, else one
        partition for all keyless records of this call (sticky per batch)."""
        sticky = next(self._round_robin) % n
        if n == 1:  # explicit partitions are checked while encoding
            return {0: None}
        if not any(isinstance(item, tuple) for item in items):
            return {sticky: None}
        groups: dict[int, list[int]] = {}
        for i, item in enumerate(items):
            p = sticky
            if isinstance(item, tuple):
                explicit = item[3] if len(item) > 3 else None
                key = item[1] if len(item) > 1 else None
                if explicit is not None:
                    if (
                        isinstance(explicit, bool)
                        or not isinstance(explicit, int)
                        or not 0 <= explicit < n
                    ):
                        raise InvalidArgumentError(
                            f"record {i} asks for partition {explicit!r}; the topic has "
                            f"partitions 0 to {n - 1}"
                        )
                    p = explicit
                elif key is not None:
                    raw = key.encode() if isinstance(key, str) else key
                    if not isinstance(raw, _BYTES_LIKE):
                        raise InvalidArgumentError(
                            f"record {i}: key must be bytes, str or None, not {type(key).__name__}"
                        )
                    p = partition_for_key(bytes(raw), n)
            groups.setdefault(p, []).append(i)
        if len(groups) == 1:
            (only,) = groups
            return {only: None}
        return dict(groups)

    # --- reading --------------------------------------------------------------------

    def fetch(
        self,
        topic: str,
        partition: int,
        offset: int,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> list[Record]:
        check_fetch(offset, max_records, max_bytes)
        return self._log.partition(topic, partition).read(offset, max_records, max_bytes)

    def read_batches(
        self,
        topic: str,
        partition: int,
        offset: int,
        max_bytes: int = DEFAULT_MAX_BYTES,
        whole: bool = False,
    ) -> bytes:
        """The batches as the segments hold them (CRCs checked, not decoded)."""
        check_fetch(offset, 1, max_bytes)
        return self._log.partition(topic, partition).read_batches(offset, max_bytes, whole)

    def start_offsets(self, topic: str) -> dict[int, int]:
        return {p.index: p.start_offset for p in self._log.partitions(topic)}

    def end_offsets(self, topic: str) -> dict[int, int]:
        return {p.index: p.end_offset for p in self._log.partitions(topic)}

    def offset_for_time(
        self, topic: str, partition: int, timestamp: int | dt.datetime
    ) -> int | None:
        ms = to_millis(timestamp)
        assert ms is not None
        return self._log.partition(topic, partition).offset_for_time(ms)

    # --- consumers and groups -------------------------------------------------------

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
    ) -> EmbeddedConsumer:
        self._check_open()
        names, _counts, manual = consumer_arguments(
            topics, group, start, assignor, partitions, lambda t: len(self._log.partitions(t))
        )
        consumer = EmbeddedConsumer(
            self, names, group, start, idle_timeout, assignor, manual, auto_reset
        )
        self._consumers.add(consumer)
        return consumer

    def _reset_position(self, tp: TopicPartition, position: int, start: Start) -> int:
        """Where a consumer goes when its position left the log (Kafka's auto.offset.reset):
        below the start offset to the start; beyond the end to the end."""
        part = self._log.partition(tp.topic, tp.partition)
        return part.start_offset if position < part.start_offset else part.end_offset

    def watch(
        self, topic: str, partition: int, callback: Callable[[], None]
    ) -> Callable[[], None] | None:
        tp = TopicPartition(topic, partition)
        self._add_listener(tp, callback)
        return lambda: self._remove_listener(tp, callback)

    def _add_listener(self, tp: TopicPartition, callback: Callable[[], None]) -> None:
        self._log.partition(tp.topic, tp.partition).add_listener(callback)

    def _remove_listener(self, tp: TopicPartition, callback: Callable[[], None]) -> None:
        try:
            self._log.partition(tp.topic, tp.partition).remove_listener(callback)
        except Exception:  # the topic was deleted: nothing to remove
            pass

    def commit(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        validate_group(group)
        checked: dict[TopicPartition, int | None] = {}
        for tp, offset in offsets.items():
            tp = TopicPartition(*tp)
            part = self._log.partition(tp.topic, tp.partition)
            if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
                raise InvalidArgumentError(
                    f"offset to commit must be an integer >= 0, not {offset!r}"
                )
            if offset > part.end_offset:
                raise OffsetOutOfRangeError(
                    f"cannot commit offset {offset} for {tp.topic}/{tp.partition}: the end offset "
                    f"is {part.end_offset}"
                )
            checked[tp] = offset
        self._log.groups.commit(group, checked)

    def committed(self, group: str, topic: str | None = None) -> dict[TopicPartition, int]:
        self._check_open()
        offsets = self._log.groups.committed(group)
        return {tp: o for tp, o in offsets.items() if topic is None or tp.topic == topic}

    def list_groups(self) -> list[str]:
        self._check_open()
        return self._log.groups.groups()

    def reset_group(self, group: str, topic: str, to: ResetTo) -> dict[TopicPartition, int]:
        validate_group(group)
        if not (isinstance(to, int) and not isinstance(to, bool)):
            check_start(to)
        if self._coordinator.members(group):
            raise InvalidArgumentError(
                f"group {group!r} has active consumers in this process; close them before a reset"
            )
        if self._coordinator.held(group):
            raise InvalidArgumentError(
                f"group {group!r} has Kafka clients as members (through the server's Kafka "
                "port); stop them before a reset"
            )
        offsets = {}
        for part in self._log.partitions(topic):
            tp = TopicPartition(topic, part.index)
            if isinstance(to, bool):
                raise InvalidArgumentError(f"cannot reset a group to {to!r}")
            if isinstance(to, int):
                part.check_offset(to)
                offsets[tp] = to
            else:
                offsets[tp] = offset_for_start(self, tp, to)
        self._log.groups.commit(group, dict(offsets))
        return offsets

    def hold_group(self, group: str) -> bool:
        """Keep ``group`` for consumers this broker does not coordinate (Kafka clients of
        ``logway serve``'s Kafka port): until ``release_group``, this broker's own
        consumers cannot join it (``InvalidArgumentError``). False, and nothing held,
        while it has consumers of this broker as members."""
        return self._coordinator.hold(group)

    def release_group(self, group: str) -> None:
        self._coordinator.release(group)

    # --- embedded extras ------------------------------------------------------------

    @property
    def log(self) -> Log:
        """The storage engine underneath (for ``logway check`` and tests)."""
        return self._log

    def apply_retention(self, now: int | None = None) -> int:
        return self._log.apply_retention(now)

    # --- lifecycle ------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"the broker at {self.url} is closed")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for stop in self._closing:
            stop()
        for consumer in list(self._consumers):
            consumer.close()
        self._log.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __repr__(self) -> str:
        return f"EmbeddedBroker({self.url!r})"


def _info(name: str, cfg: TopicConfig) -> TopicInfo:
    config = cfg.to_json()
    partitions = config.pop("partitions")
    return TopicInfo(name, partitions, config)
