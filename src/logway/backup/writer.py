"""Taking a backup of a topic: its records into objects of RecordBatch v2 data, then the
manifest that lists them.

A run continues each partition from the end offset in the manifest, so repeated runs
only add objects. Objects go first, the manifest after them (an atomic put), every
``CHECKPOINT_BYTES`` of objects and at the end: a crash leaves at most objects the
manifest does not list, and the next run removes those before it writes. When
retention deleted records that no run copied, the run says so (a warning, and a gap
in the manifest) and goes on from the topic's start offset.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from logway.backup.manifest import (
    BackupObject,
    Gap,
    Manifest,
    PartitionBackup,
    manifest_path,
    now_iso,
    read_manifest,
)
from logway.backup.objects import ObjectBuilder, sound_batches
from logway.broker import Broker, read_batches
from logway.errors import InvalidArgumentError, OffsetOutOfRangeError
from logway.objectstore import ObjectStore, open_store
from logway.units import parse_size

log = logging.getLogger("logway.backup")

DEFAULT_OBJECT_BYTES = 64 << 20
READ_BYTES = 8 << 20  # asked of the broker at a time
CHECKPOINT_BYTES = 1 << 30  # the manifest is rewritten after about this much new data
# objects put at once: a disk takes two writers that each fsync much faster than one
# (about 1.5x here); memory holds these and the object being gathered
PUTS_IN_FLIGHT = 2


@dataclass
class BackupResult:
    """What one run added to the backup at ``dest``."""

    topic: str
    dest: str
    objects: list[BackupObject] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # objects of a crashed run, deleted
    gaps: dict[int, list[Gap]] = field(default_factory=dict)  # found by this run
    manifest: Manifest | None = None

    @property
    def records(self) -> int:
        return sum(o.records for o in self.objects)

    @property
    def bytes(self) -> int:
        return sum(o.bytes for o in self.objects)


def backup(
    broker: Broker,
    topic: str,
    dest: str | ObjectStore,
    *,
    object_bytes: int | str = DEFAULT_OBJECT_BYTES,
) -> BackupResult:
    """Back up ``topic`` to ``dest`` (a directory, ``file:PATH``, ``s3://bucket/prefix``
    or an ``ObjectStore``), from where the last run ended up to the end offsets now.
    One run at a time per topic and destination."""
    size = parse_size(object_bytes, "object_bytes")
    if size < 1:
        raise InvalidArgumentError(f"object_bytes must be at least 1 byte, not {size}")
    store = dest if isinstance(dest, ObjectStore) else open_store(dest)
    info = broker.describe_topic(topic)
    starts, ends = broker.start_offsets(topic), broker.end_offsets(topic)
    manifest = read_manifest(store, topic) or Manifest(topic, 0, {}, [])
    _check_matches(manifest, info.partitions, ends, store)
    for p in range(manifest.partition_count, info.partitions):  # new, or added since
        manifest.partitions.append(PartitionBackup(p, starts[p], starts[p]))
    manifest.partition_count = info.partitions
    manifest.config = _plain(info.config)
    manifest.runs += 1
    result = BackupResult(topic, store.url, manifest=manifest)
    result.removed = _remove_unlisted(store, manifest)
    run = _Run(broker, store, manifest, result, size)
    try:
        for part in manifest.partitions:
            run.partition(part, starts[part.partition], ends[part.partition])
    except BaseException:
        run.abandon()
        raise
    run.close()
    manifest.updated_at = now_iso()
    store.put(manifest_path(topic), manifest.to_json())
    return result


def _check_matches(
    manifest: Manifest, count: int, ends: dict[int, int], store: ObjectStore
) -> None:
    """Refuse, before anything is written, a topic that is not the one backed up."""
    if count < manifest.partition_count:
        raise InvalidArgumentError(
            f"topic {manifest.topic!r} has {count} partitions, but its backup at {store.url} "
            f"has {manifest.partition_count}: it is another topic of the same name; back it "
            "up to a new destination"
        )
    for part in manifest.partitions:
        if ends[part.partition] < part.end_offset:
            raise InvalidArgumentError(
                f"partition {part.partition} of topic {manifest.topic!r} ends at offset "
                f"{ends[part.partition]}, below offset {part.end_offset} where its backup at "
                f"{store.url} ends: the topic was deleted and created again, or is another "
                "one; back it up to a new destination"
            )


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    """The topic's settings as JSON takes them."""
    return {
        k: v if isinstance(v, str | int | float | bool) or v is None else str(v)
        for k, v in config.items()
    }


def _remove_unlisted(store: ObjectStore, manifest: Manifest) -> list[str]:
    """Delete the objects a crashed run left (written, never listed in the manifest)."""
    listed = manifest.paths
    removed = []
    for info in store.list(f"{manifest.topic}/"):
        if info.path not in listed and info.path != manifest_path(manifest.topic):
            store.delete(info.path)
            removed.append(info.path)
    if removed:
        where = store.uri(manifest.topic)
        log.info("removed %d object(s) an interrupted run left in %s", len(removed), where)
    return removed


class _Run:
    """Copies partitions into objects; objects are put by other threads while the next
    one is read, and the manifest lists only objects that are in the store."""

    def __init__(
        self,
        broker: Broker,
        store: ObjectStore,
        manifest: Manifest,
        result: BackupResult,
        object_bytes: int,
    ):
        self.broker = broker
        self.store = store
        self.manifest = manifest
        self.result = result
        self.object_bytes = object_bytes
        self.topic = manifest.topic
        self._putter = ThreadPoolExecutor(PUTS_IN_FLIGHT, thread_name_prefix="logway-backup-put")
        self._pending: deque[tuple[Future[BackupObject], PartitionBackup]] = deque()
        self._since_checkpoint = 0

    def partition(self, part: PartitionBackup, start: int, end: int) -> None:
        p = part.partition
        where = f"{self.topic}/{p}"
        position = part.end_offset
        if start > position:
            position = self._gap(part, position, start)
        builder = ObjectBuilder(self.topic, p)
        while position < end:
            try:
                data = read_batches(self.broker, self.topic, p, position, READ_BYTES)
            except OffsetOutOfRangeError:  # retention moved the start meanwhile
                start = self.broker.start_offsets(self.topic)[p]
                if start <= position:
                    raise
                position = self._gap(part, position, start)
                continue
            moved = False
            for piece, header in sound_batches(data, position, end, where):
                if builder.size and builder.size + len(piece) > self.object_bytes:
                    self._put(builder, part)
                    builder = ObjectBuilder(self.topic, p)
                builder.add(piece, header)
                position = header.last_offset + 1
                moved = True
            if not moved:
                break  # no records left below the end offset (transaction markers only)
        if builder.size:
            self._put(builder, part)
        self._settle()
        part.end_offset = max(part.end_offset, end)

    def _gap(self, part: PartitionBackup, position: int, start: int) -> int:
        gap = Gap(position, start, now_iso())
        part.gaps.append(gap)
        self.result.gaps.setdefault(part.partition, []).append(gap)
        log.warning(
            "offsets %d to %d of %s/%d were deleted by retention before a backup copied "
            "them: the backup has a gap there (recorded in its manifest)",
            position,
            start - 1,
            self.topic,
            part.partition,
        )
        return start

    def _put(self, builder: ObjectBuilder, part: PartitionBackup) -> None:
        if len(self._pending) >= PUTS_IN_FLIGHT:
            self._settle_one()
        self._pending.append((self._putter.submit(self._write, builder), part))

    def _write(self, builder: ObjectBuilder) -> BackupObject:
        """Put one object, taking its SHA-256 as it is written (in the putting thread)."""
        sha256 = hashlib.sha256()
        # memoryviews of what the broker handed over: written without a copy
        self.store.put(builder.path, cast(Iterator[bytes], builder.hashed(sha256)))
        return builder.entry(sha256.hexdigest())

    def _settle(self) -> None:
        """Wait for every object being put, listing each once it is in the store."""
        while self._pending:
            self._settle_one()

    def _settle_one(self) -> None:
        """Wait for the oldest object being put (they are listed in offset order)."""
        future, part = self._pending.popleft()
        entry = future.result()
        part.objects.append(entry)
        part.end_offset = entry.last_offset + 1
        self.result.objects.append(entry)
        self._since_checkpoint += entry.bytes
        if self._since_checkpoint >= CHECKPOINT_BYTES:
            self._since_checkpoint = 0
            self.manifest.updated_at = now_iso()
            self.store.put(manifest_path(self.topic), self.manifest.to_json())

    def close(self) -> None:
        self._settle()
        self._putter.shutdown()

    def abandon(self) -> None:
        """After a failure: let the puts in flight end (their objects stay unlisted, for
        the next run to remove) without listing anything more."""
        self._pending.clear()
        self._putter.shutdown(wait=True)
