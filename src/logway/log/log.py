"""The log on a data directory: topics, their partitions, committed offsets.

Layout (Kafka's, with a metadata file per topic)::

    <data>/.lock                         owner pid, flock'ed
    <data>/.clean-shutdown               present only between a clean close and the next open
    <data>/topics/<topic>/topic.json     partitions and settings, written atomically
    <data>/topics/<topic>/<partition>/<base offset:020d>.log|.index|.timeindex
    <data>/groups/<group>.offsets        committed offsets (see group_offsets.py)

A background thread flushes partitions with ``fsync="interval"`` and applies
retention every ``retention_check_ms``.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import resource
import shutil
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from logway.errors import (
    ClosedError,
    InvalidArgumentError,
    RecordTooLargeError,
    StorageError,
    TopicExistsError,
    UnknownTopicError,
)
from logway.log import own_offsets
from logway.log.group_offsets import GroupOffsets
from logway.log.lock import DirectoryLock
from logway.log.partition import Partition, now_ms
from logway.log.segment import Placed
from logway.log.topic_config import TopicConfig, fsync_dir, write_json_atomically
from logway.names import validate_topic_name
from logway.recordbatch import codec
from logway.recordbatch.compression import codec_id
from logway.records import Record, check_own_offsets

CLEAN_SHUTDOWN = ".clean-shutdown"
TOPIC_FILE = "topic.json"


class Log:
    def __init__(
        self,
        path: str,
        *,
        defaults: TopicConfig | None = None,
        retention_check_ms: int = 300_000,
        max_partitions: int | None = None,
        serve_at: str = "",
    ):
        self.path = os.path.abspath(path)
        self.defaults = defaults or TopicConfig()
        # a partition holds a file open: keep half the open-files limit for the rest
        self.max_partitions = max_partitions or max(
            1, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 2
        )
        os.makedirs(os.path.join(self.path, "topics"), exist_ok=True)
        self._dir_lock = DirectoryLock(self.path, serve_at)
        self._lock = threading.RLock()
        self._closed = False
        self.topics: dict[str, list[Partition]] = {}
        self.configs: dict[str, TopicConfig] = {}
        marker = os.path.join(self.path, CLEAN_SHUTDOWN)
        self.clean_start = os.path.exists(marker)
        try:
            if self.clean_start:
                os.unlink(marker)
            self._load_topics()
            self.groups = GroupOffsets(
                os.path.join(self.path, "groups"), fsync=self.defaults.fsync == "always"
            )
        except BaseException:
            self._close_partitions()
            self._dir_lock.release()
            raise
        self._stop = threading.Event()
        self._retention_check_ms = retention_check_ms
        self._maintenance = threading.Thread(
            target=self._maintain, name=f"logway-maintenance {self.path}", daemon=True
        )
        self._maintenance.start()

    # --- topics ---------------------------------------------------------------------

    def _topics_dir(self) -> str:
        return os.path.join(self.path, "topics")

    def _load_topics(self) -> None:
        for name in sorted(os.listdir(self._topics_dir())):
            tdir = os.path.join(self._topics_dir(), name)
            if name.startswith("#"):  # an interrupted create or delete
                shutil.rmtree(tdir, ignore_errors=True)
                continue
            with open(os.path.join(tdir, TOPIC_FILE)) as f:
                config = TopicConfig.from_json(json.load(f))
            self.configs[name] = config
            self.topics[name] = [
                Partition(os.path.join(tdir, str(p)), name, p, config, clean=self.clean_start)
                for p in range(config.partitions)
            ]

    def create_topic(self, name: str, partitions: int = 1, **options: Any) -> TopicConfig:
        validate_topic_name(name)
        config = TopicConfig.build(partitions, self.defaults, **options)
        with self._lock:
            self._check_open()
            if name in self.topics:
                raise TopicExistsError(f"topic {name!r} already exists")
            held = sum(len(parts) for parts in self.topics.values())
            if held + config.partitions > self.max_partitions:
                raise InvalidArgumentError(
                    f"cannot create topic {name!r} with {config.partitions} partitions: this "
                    f"log holds {held} of at most {self.max_partitions} (half the open-files "
                    "limit, as each partition keeps a file open); delete topics, use fewer "
                    "partitions, or raise ulimit -n"
                )
            staging = os.path.join(self._topics_dir(), f"#creating-{uuid.uuid4().hex}")
            tdir = os.path.join(self._topics_dir(), name)
            opened: list[Partition] = []
            try:  # build the topic's directories aside and publish them with one rename
                os.makedirs(staging)
                for p in range(config.partitions):
                    os.mkdir(os.path.join(staging, str(p)))
                write_json_atomically(os.path.join(staging, TOPIC_FILE), config.to_json())
                os.rename(staging, tdir)
                fsync_dir(self._topics_dir())
                for p in range(config.partitions):
                    opened.append(Partition(os.path.join(tdir, str(p)), name, p, config, True))
            except (OSError, StorageError) as exc:
                for part in opened:
                    part.close()
                self._discard(tdir if os.path.exists(tdir) else staging)
                cause = exc.__cause__ if isinstance(exc, StorageError) else exc
                emfile = isinstance(cause, OSError) and cause.errno == errno.EMFILE
                why = (cause.strerror if isinstance(cause, OSError) else None) or str(exc)
                raise StorageError(
                    f"cannot create topic {name!r} with {config.partitions} partitions: "
                    f"{why}; nothing was created"
                    + (
                        " (raise the open-files limit, ulimit -n, or use fewer partitions)"
                        if emfile
                        else ""
                    )
                ) from exc
            self.configs[name] = config
            self.topics[name] = opened
            return config

    def add_partitions(self, name: str, total: int) -> TopicConfig:
        """Grow topic ``name`` to ``total`` partitions (Kafka's CreatePartitions: a count
        only ever grows). The new partitions' directories are made and opened first;
        ``topic.json``, written atomically, then makes them part of the topic, so a
        crash before it leaves the topic as it was (the next call clears what is left)."""
        if isinstance(total, bool) or not isinstance(total, int):
            raise InvalidArgumentError(f"a partition count must be an integer, not {total!r}")
        with self._lock:
            self._check_open()
            parts = self._partitions(name)
            current = len(parts)
            if total <= current:
                raise InvalidArgumentError(
                    f"topic {name!r} has {current} partitions and a count only grows: ask "
                    f"for more than {current} (not {total}); nothing was changed"
                )
            held = sum(len(p) for p in self.topics.values())
            if held + total - current > self.max_partitions:
                raise InvalidArgumentError(
                    f"cannot grow topic {name!r} to {total} partitions: this log holds {held} "
                    f"of at most {self.max_partitions} (half the open-files limit); nothing "
                    "was changed"
                )
            config = dataclasses.replace(self.configs[name], partitions=total)
            tdir = os.path.join(self._topics_dir(), name)
            opened: list[Partition] = []
            try:
                for p in range(current, total):
                    pdir = os.path.join(tdir, str(p))
                    shutil.rmtree(pdir, ignore_errors=True)  # left by an interrupted call
                    os.mkdir(pdir)
                    opened.append(Partition(pdir, name, p, config, True))
                fsync_dir(tdir)
                write_json_atomically(os.path.join(tdir, TOPIC_FILE), config.to_json())
            except (OSError, StorageError) as exc:
                for part in opened:
                    part.close()
                for p in range(current, total):
                    shutil.rmtree(os.path.join(tdir, str(p)), ignore_errors=True)
                raise StorageError(
                    f"cannot grow topic {name!r} to {total} partitions: {exc}; nothing was changed"
                ) from exc
            for part in parts:
                part.config = config
            self.configs[name] = config
            self.topics[name] = parts + opened
            return config

    def delete_topic(self, name: str) -> None:
        with self._lock:
            self._check_open()
            partitions = self._partitions(name)
            for part in partitions:
                part.close()
            del self.topics[name]
            del self.configs[name]
            self._discard(os.path.join(self._topics_dir(), name))
        self.groups.forget_topic(name)

    def _discard(self, tdir: str) -> None:
        """Remove a topic directory: renamed aside first (atomic), then deleted; a crash
        in between leaves a '#deleted-' directory that the next open removes."""
        trash = os.path.join(self._topics_dir(), f"#deleted-{uuid.uuid4().hex}")
        os.rename(tdir, trash)
        fsync_dir(self._topics_dir())
        shutil.rmtree(trash, ignore_errors=True)

    def _partitions(self, topic: str) -> list[Partition]:
        try:
            return self.topics[topic]
        except KeyError:
            raise UnknownTopicError(
                f"unknown topic {topic!r}; create it first (logway topics create {topic})"
            ) from None

    def partitions(self, topic: str) -> list[Partition]:
        self._check_open()
        return self._partitions(topic)

    def partition(self, topic: str, index: int) -> Partition:
        parts = self.partitions(topic)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(parts):
            raise UnknownTopicError(
                f"topic {topic!r} has partitions 0 to {len(parts) - 1}; there is no partition "
                f"{index!r}"
            )
        return parts[index]

    # --- appending ------------------------------------------------------------------

    def append(
        self,
        topic: str,
        partition: int,
        items: Sequence[Any],
        default_timestamp: int | None = None,
    ) -> tuple[int, int, int, int]:
        """Encode ``items`` as one batch and append it; returns
        ``(base offset, count, first timestamp, max timestamp)``."""
        part = self.partition(topic, partition)
        cfg = part.config
        ts = now_ms() if default_timestamp is None else default_timestamp
        try:
            batch, count, first, last = codec.encode_batch(
                items, ts, cfg.max_record_bytes, codec_id(cfg.compression), cfg.partitions
            )
        except ValueError as exc:
            if "over the limit" in str(exc):
                raise RecordTooLargeError(
                    f"{exc} (max_record_bytes of topic {topic!r}); raise the topic's "
                    "max_record_bytes or send smaller records"
                ) from None
            raise InvalidArgumentError(str(exc)) from None
        except TypeError as exc:
            raise InvalidArgumentError(str(exc)) from None
        if cfg.timestamp_type == "log_append":
            codec.set_log_append_time(batch, ts)
            first = last = ts
        base = part.append(batch, count, last)
        return base, count, first, last

    def append_at(self, topic: str, partition: int, records: Sequence[Record]) -> None:
        """Append records keeping their own offsets: they increase, the first is at or
        after the end offset, and an empty partition begins at the first one. Checked
        and encoded under the partition's lock (the end offset must not move meanwhile);
        bad input raises before anything is written."""
        part = self.partition(topic, partition)
        if not records:
            return
        check_own_offsets(records)
        where = f"{topic}/{partition}"
        with part.lock:
            begin = self._check_first(part, records[0].offset)
            cfg = part.config
            batches = own_offsets.encode_records(
                records,
                part.end_offset if begin is None else begin,
                cfg.max_record_bytes,
                codec_id(cfg.compression),
                where,
            )
            part.append_many(batches, begin)

    def append_batches(
        self, topic: str, partition: int, data: bytes | bytearray | memoryview
    ) -> None:
        """``append_at`` for records given as whole RecordBatch v2 batches carrying their
        offsets (a backup's objects): sound batches are stored as they are, without
        decoding; only one that begins past a hole in the offsets is re-encoded."""
        part = self.partition(topic, partition)
        where = f"{topic}/{partition}"
        headers = own_offsets.check_batches(data, where)
        if not headers:
            return
        view = memoryview(data)
        with part.lock:
            begin = self._check_first(part, headers[0].base_offset)
            expect = part.end_offset if begin is None else begin
            placed: list[Placed] = []
            pos = 0
            for h in headers:
                batch = view[pos : pos + h.size]
                pos += h.size
                if h.base_offset == expect:
                    placed.append(Placed(batch, h.base_offset, h.next_offset, h.max_timestamp))
                    expect = h.next_offset
                    continue
                try:  # past a hole: its records go into batches based at ``expect``
                    records = codec.decode_batch(batch, 0, topic, partition)[1]
                except ValueError as exc:
                    raise InvalidArgumentError(
                        f"a batch for {where} at offset {h.base_offset}: {exc}; nothing was written"
                    ) from None
                if records:
                    placed += own_offsets.encode_records(
                        records, expect, codec.WIRE_RECORD_LIMIT, h.compression, where
                    )
                    expect = placed[-1].next_offset
            part.append_many(placed, begin)

    def append_produced(
        self,
        topic: str,
        partition: int,
        data: bytes | bytearray | memoryview,
        sync: bool = True,
    ) -> tuple[int, int]:
        """Append whole RecordBatch v2 batches as a Kafka producer sent them: framing and
        CRCs are checked, offsets are assigned by rewriting each base offset (which the
        CRC does not cover) and the batches are stored as they are, compressed or not,
        without decoding a record. Returns the first batch's base offset and the time
        the log stamped them with (-1 unless the topic is LogAppendTime). Bad input
        raises before anything is written. ``sync=False`` leaves the fsync (of an
        "always" topic) to a later ``sync``, which one fsync serves many appends."""
        part = self.partition(topic, partition)
        where = f"{topic}/{partition}"
        headers = own_offsets.check_batches(data, where, ordered=False)
        if not headers:
            raise InvalidArgumentError(f"no record batch for {where}; nothing was written")
        limit = part.config.max_record_bytes
        for h in headers:
            # Kafka's max.message.bytes bounds a whole batch, as this does
            if h.size > limit + codec.HEADER_SIZE:
                raise RecordTooLargeError(
                    f"a batch of {h.size} bytes for {where} is over the topic's limit of "
                    f"{limit} bytes (max_record_bytes); nothing was written"
                )
            if h.record_count != h.last_offset_delta + 1:
                raise InvalidArgumentError(
                    f"a batch for {where} holds {h.record_count} records but its last offset "
                    f"delta is {h.last_offset_delta}; nothing was written"
                )
        batches = bytearray(data)
        stamp = now_ms() if part.config.timestamp_type == "log_append" else None
        with part.lock:
            base = expect = part.end_offset
            placed: list[Placed] = []
            pos = 0
            for h in headers:
                codec.set_base_offset(batches, expect, pos)
                if stamp is not None:  # Kafka's LogAppendTime: the log's clock, not the client's
                    codec.set_log_append_time(batches, stamp, pos)
                nxt = expect + h.last_offset_delta + 1
                view = memoryview(batches)[pos : pos + h.size]
                placed.append(Placed(view, expect, nxt, stamp or h.max_timestamp))
                pos += h.size
                expect = nxt
            part.append_many(placed, sync=sync)
        return base, -1 if stamp is None else stamp

    def sync(self, topic: str, partition: int) -> None:
        """Make a partition's appends durable as its fsync policy asks."""
        self.partition(topic, partition).sync()

    @staticmethod
    def _check_first(part: Partition, first: int) -> int | None:
        """Refuse a first offset below the end offset; where an empty partition begins."""
        end = part.end_offset
        if first < end:
            raise InvalidArgumentError(
                f"cannot write offset {first} to {part.topic}/{part.index}: its end offset is "
                f"{end}, and records keep their offsets only when appended at or after it; "
                "nothing was written"
            )
        return first if part.empty else None

    # --- maintenance ----------------------------------------------------------------

    def _maintain(self) -> None:
        next_retention = time.monotonic()
        while not self._stop.is_set():
            interval = min(
                [c.fsync_interval_ms for c in list(self.configs.values()) if c.fsync == "interval"]
                + [self._retention_check_ms, 1000]
            )
            if self._stop.wait(interval / 1000):
                return
            try:
                for parts in list(self.topics.values()):
                    for part in parts:
                        if part.dirty:
                            part.flush()
                if time.monotonic() >= next_retention:
                    self.apply_retention()
                    next_retention = time.monotonic() + self._retention_check_ms / 1000
            except Exception:  # a topic deleted under us; the next round sees the new state
                continue

    def apply_retention(self, now: int | None = None) -> int:
        deleted = 0
        for parts in list(self.topics.values()):
            for part in parts:
                if part.segments:
                    deleted += part.apply_retention(now)
        return deleted

    def flush(self) -> None:
        for parts in list(self.topics.values()):
            for part in parts:
                part.flush()

    # --- lifecycle ------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"the log at {self.path} is closed")

    def _close_partitions(self) -> None:
        for parts in self.topics.values():
            for part in parts:
                part.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        if self._maintenance.is_alive() and self._maintenance is not threading.current_thread():
            self._maintenance.join()
        self._close_partitions()
        self.groups.close()
        with open(os.path.join(self.path, CLEAN_SHUTDOWN), "w"):
            pass
        fsync_dir(self.path)
        self._dir_lock.release()

    def __enter__(self) -> Log:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
