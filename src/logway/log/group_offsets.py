"""Committed offsets of consumer groups, durable and atomic.

Each group has an append-only file of record batches (the log's own format,
as Kafka keeps commits in its ``__consumer_offsets`` topic): one batch per
commit, one record per partition, key ``topic\\0partition`` and value the
offset as int64 (``None`` removes the entry). A commit is one batch, so a crash
leaves all of it or none of it: a torn or damaged tail fails its CRC and is
dropped when the file is read. The file is compacted by an atomic rewrite when
it has grown well past the live entries.
"""

from __future__ import annotations

import os
import struct
import threading
import time
import urllib.parse

from logway.errors import StorageError
from logway.log.topic_config import fsync_dir
from logway.names import validate_group
from logway.recordbatch import codec
from logway.records import TopicPartition

_OFFSET = struct.Struct(">q")
SUFFIX = ".offsets"
COMPACT_AFTER_BATCHES = 1000


def _key(tp: TopicPartition) -> bytes:
    topic, partition = tp
    return f"{topic}\0{partition}".encode()


def _parse_key(key: bytes) -> TopicPartition:
    topic, partition = key.decode().split("\0")
    return TopicPartition(topic, int(partition))


class GroupOffsets:
    def __init__(self, directory: str, fsync: bool):
        self.directory = directory
        self.fsync = fsync
        self._lock = threading.Lock()
        self._offsets: dict[str, dict[TopicPartition, int]] = {}
        self._batches: dict[str, int] = {}
        self._fds: dict[str, int] = {}
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(SUFFIX):
                self._load(urllib.parse.unquote(name[: -len(SUFFIX)]))
            elif name.endswith(".tmp"):
                os.unlink(os.path.join(directory, name))

    def _path(self, group: str) -> str:
        return os.path.join(self.directory, urllib.parse.quote(group, safe="") + SUFFIX)

    def _load(self, group: str) -> None:
        path = self._path(group)
        with open(path, "rb") as f:
            data = f.read()
        offsets: dict[TopicPartition, int] = {}
        pos = batches = 0
        while pos < len(data):
            try:
                header, records = codec.decode_batch(data, pos)
            except ValueError:
                break
            for rec in records:
                if rec.key is None:
                    continue
                tp = _parse_key(rec.key)
                if rec.value is None:
                    offsets.pop(tp, None)
                else:
                    offsets[tp] = _OFFSET.unpack(rec.value)[0]
            pos += header.size
            batches += 1
        if pos < len(data):  # a torn commit: it never happened
            with open(path, "r+b") as f:
                f.truncate(pos)
        self._offsets[group] = offsets
        self._batches[group] = batches

    def groups(self) -> list[str]:
        with self._lock:
            return sorted(self._offsets)

    def committed(self, group: str) -> dict[TopicPartition, int]:
        with self._lock:
            return dict(self._offsets.get(group, {}))

    def commit(self, group: str, offsets: dict[TopicPartition, int | None]) -> None:
        """Record all ``offsets`` at once (``None`` forgets a partition)."""
        validate_group(group)
        if not offsets:
            return
        items = [
            (None if off is None else _OFFSET.pack(off), _key(tp)) for tp, off in offsets.items()
        ]
        batch, *_ = codec.encode_batch(items, int(time.time() * 1000), 1 << 20)
        with self._lock:
            fd = self._fds.get(group)
            if fd is None:
                path = self._path(group)
                new = not os.path.exists(path)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                self._fds[group] = fd
                if new and self.fsync:
                    fsync_dir(self.directory)
            size = os.fstat(fd).st_size
            try:
                written = os.write(fd, batch)
                if written != len(batch):
                    raise OSError(
                        0,
                        f"short write ({written} of {len(batch)} bytes): the disk is full or "
                        "the file size limit was reached",
                    )
                if self.fsync:
                    os.fdatasync(fd)
            except OSError as exc:
                os.ftruncate(fd, size)
                raise StorageError(
                    f"cannot commit offsets of group {group!r}: {exc.strerror or exc}; "
                    "the previous commit stands"
                ) from exc
            current = self._offsets.setdefault(group, {})
            for tp, off in offsets.items():
                if off is None:
                    current.pop(tp, None)
                else:
                    current[tp] = off
            self._batches[group] = self._batches.get(group, 0) + 1
            if self._batches[group] > COMPACT_AFTER_BATCHES:
                self._compact(group)

    def _compact(self, group: str) -> None:
        path = self._path(group)
        live = self._offsets[group]
        fd = self._fds.pop(group)
        os.close(fd)
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            if live:
                items = [(_OFFSET.pack(off), _key(tp)) for tp, off in live.items()]
                f.write(codec.encode_batch(items, int(time.time() * 1000), 1 << 30)[0])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(self.directory)
        self._batches[group] = 1

    def forget_topic(self, topic: str) -> None:
        """Drop a deleted topic's offsets from every group, as Kafka does."""
        for group in self.groups():
            gone: dict[TopicPartition, int | None] = {
                tp: None for tp in self.committed(group) if tp.topic == topic
            }
            if gone:
                self.commit(group, gone)

    def close(self) -> None:
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()
