"""Restoring a topic from a backup into a new topic, with the same partitions, settings,
and records at the same offsets (``Broker.write_at``).

Every object is checked: its size against the manifest before anything is created,
each batch's framing and offsets before the batches are written, their CRC-32Cs by the
broker as it takes them (it stores none of a call with a bad one), and the object's
SHA-256 against the manifest as they are written. A damaged or missing object raises
``CorruptRecordError`` naming it.

Nothing half-restored is left looking complete. Before the new topic is created, a
marker topic ``__logway-restoring-NEW`` is; it is deleted only once every record is
written. A restore that fails deletes what it created; one that is killed leaves the
marker beside the partial topic, and a later restore into the same name finds it and
refuses (or, with ``replace_incomplete``, deletes both and starts over).
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from logway.backup.manifest import (
    BackupObject,
    Gap,
    Manifest,
    backed_up_topics,
    manifest_path,
    read_manifest,
)
from logway.backup.object_reader import ObjectReader, Read
from logway.backup.objects import check_batches, check_crcs, check_digest
from logway.broker import Broker, write_batches
from logway.errors import (
    CorruptRecordError,
    InvalidArgumentError,
    InvalidTopicNameError,
    TopicExistsError,
    UnknownTopicError,
)
from logway.objectstore import ObjectStore, open_store
from logway.topic_settings import PORTABLE_SETTINGS, portable_settings

log = logging.getLogger("logway.backup")

MARKER_PREFIX = "__logway-restoring-"
MAX_TOPIC_NAME = 249


@dataclass
class RestoreResult:
    topic: str
    source_topic: str
    src: str
    partitions: int = 0
    objects: int = 0
    records: int = 0
    bytes: int = 0
    gaps: dict[int, list[Gap]] = field(default_factory=dict)  # holes the backup has
    warnings: list[str] = field(default_factory=list)
    replaced_incomplete: bool = False


def marker_topic(topic: str) -> str:
    """The topic that marks a restore into ``topic`` as not finished."""
    name = MARKER_PREFIX + topic
    if len(name) > MAX_TOPIC_NAME:
        name = MARKER_PREFIX + hashlib.sha256(topic.encode()).hexdigest()
    return name


def restore(
    broker: Broker,
    src: str | ObjectStore,
    topic: str,
    *,
    source_topic: str | None = None,
    config: dict[str, Any] | None = None,
    replace_incomplete: bool = False,
) -> RestoreResult:
    """Rebuild the backup of ``source_topic`` (the only topic in ``src`` if None) as a new
    topic ``topic``; ``config`` overrides settings of the backup's. Refuses a ``topic``
    that exists."""
    store = src if isinstance(src, ObjectStore) else open_store(src)
    source = source_topic if source_topic is not None else _only_topic(store)
    manifest = read_manifest(store, source)
    if manifest is None:
        held = ", ".join(backed_up_topics(store)) or "none"
        raise InvalidArgumentError(
            f"{store.uri()} holds no backup of topic {source!r} (no {manifest_path(source)}); "
            f"it holds backups of: {held}"
        )
    _check_present(store, manifest)
    result = RestoreResult(topic, source, store.url, manifest.partition_count)
    result.gaps = {p.partition: list(p.gaps) for p in manifest.partitions if p.gaps}
    marker = marker_topic(topic)
    result.replaced_incomplete = _clear_the_way(broker, topic, marker, replace_incomplete)
    try:
        broker.create_topic(marker)
    except InvalidTopicNameError as exc:  # the marker's name is the new topic's, prefixed
        raise InvalidTopicNameError(f"cannot restore into topic {topic!r}: {exc}") from None
    created = False
    try:
        result.warnings += _create(broker, topic, manifest, config or {})
        created = True
        _Copier(broker, store, topic, result).run(manifest)
    except BaseException:
        _discard(broker, topic if created else None, marker)
        raise
    broker.delete_topic(marker)
    for part in manifest.partitions:
        if not part.objects and part.end_offset > 0:
            result.warnings.append(
                f"partition {part.partition} held no records (its offsets were up to "
                f"{part.end_offset - 1}); it is restored empty, from offset 0"
            )
    return result


def _only_topic(store: ObjectStore) -> str:
    topics = backed_up_topics(store)
    if len(topics) == 1:
        return topics[0]
    if not topics:
        raise InvalidArgumentError(f"{store.uri()} holds no backup (no TOPIC/manifest.json)")
    raise InvalidArgumentError(
        f"{store.uri()} holds backups of several topics ({', '.join(topics)}); say which "
        "one to restore (source_topic, --source-topic)"
    )


def _check_present(store: ObjectStore, manifest: Manifest) -> None:
    """Every object the manifest lists is in the store, at its size: checked before
    anything is created."""
    present = {info.path: info.size for info in store.list(f"{manifest.topic}/")}
    for part in manifest.partitions:
        for obj in part.objects:
            size = present.get(obj.path)
            uri = store.uri(obj.path)
            if size is None:
                raise CorruptRecordError(
                    f"backup object {uri} is missing (the manifest lists it); nothing was restored",
                    path=uri,
                )
            if size != obj.bytes:
                raise CorruptRecordError(
                    f"backup object {uri} is damaged: it is {size} bytes, the manifest says "
                    f"{obj.bytes}; nothing was restored",
                    path=uri,
                )


def _clear_the_way(broker: Broker, topic: str, marker: str, replace: bool) -> bool:
    """Refuse an existing ``topic``, unless an interrupted restore left it and
    ``replace`` says to delete it. True if such a topic was deleted."""
    topics = set(broker.list_topics())
    if topic in topics and marker not in topics:
        raise TopicExistsError(
            f"topic {topic!r} already exists; a restore creates a new topic: choose another "
            "name, or delete that topic first"
        )
    if topic in topics and not replace:
        raise TopicExistsError(
            f"topic {topic!r} is what an interrupted restore left (the topic {marker!r} marks "
            "it): it is incomplete; delete both, or restore again with --replace-incomplete "
            "(replace_incomplete=True)"
        )
    replaced = topic in topics
    if replaced:
        log.warning("deleting topic %r, which an interrupted restore left incomplete", topic)
        broker.delete_topic(topic)
    if marker in topics:
        broker.delete_topic(marker)
    return replaced


def _create(broker: Broker, topic: str, manifest: Manifest, overrides: dict[str, Any]) -> list[str]:
    """Create ``topic`` as the backup's was; settings this backend does not know are
    left out (and said so) rather than failing the restore."""
    settings = {**manifest.config, **overrides}
    try:
        broker.create_topic(topic, manifest.partition_count, **settings)
        return []
    except InvalidArgumentError as exc:
        portable = portable_settings(manifest.config)  # in Kafka's names
        dropped = sorted(
            k
            for k in manifest.config
            if k not in overrides and PORTABLE_SETTINGS.get(k, k) not in portable
        )
        if not dropped:
            raise
        broker.create_topic(topic, manifest.partition_count, **portable, **overrides)
        return [
            f"settings {', '.join(dropped)} of the backup are not known here ({exc}); "
            "the topic was created without them"
        ]


def _discard(broker: Broker, topic: str | None, marker: str) -> None:
    """After a failed restore: delete the topic it created, then the marker."""
    for name in (topic, marker):
        if name is None:
            continue
        try:
            broker.delete_topic(name)
        except UnknownTopicError:
            pass
        except Exception as exc:  # the first failure is the one to report
            log.error("could not delete topic %r after the failed restore: %s", name, exc)


class _Copier:
    """Writes the objects in order, in three stages that overlap. A reading thread gets
    the next object and checks its batches' framing and offsets. Its batches are
    written as they are; the broker checks each one's CRC-32C as it takes them and
    stores none of an object with a bad one (a second check here would only slow the
    restore down), and meanwhile a hashing thread takes the object's SHA-256 (hashlib
    lets go of the GIL, as the writes do). A digest is checked before the next object
    is written, and the last one before the restore ends: a damaged object fails the
    restore, named, after at most its own records were written, and the restore then
    deletes the topic. (Reading further ahead gains nothing: reads and writes share
    the disk.)"""

    def __init__(self, broker: Broker, store: ObjectStore, topic: str, result: RestoreResult):
        self.broker = broker
        self.store = store
        self.topic = topic
        self.result = result
        self.reader = ObjectReader(store)

    def run(self, manifest: Manifest) -> None:
        work = [
            (part.partition, obj, previous.last_offset if previous else -1)
            for part in manifest.partitions
            for previous, obj in zip([None, *part.objects], part.objects, strict=False)
        ]
        if not work:
            return
        with (
            ThreadPoolExecutor(1, thread_name_prefix="logway-restore-get") as reader,
            ThreadPoolExecutor(1, thread_name_prefix="logway-restore-hash") as hasher,
        ):
            ahead = reader.submit(self._get, *work[0][1:])
            hashing: tuple[Future[None], Read] | None = None
            try:
                for i, (partition, obj, _after) in enumerate(work):
                    got = ahead.result()
                    if hashing is not None:  # the object written before was the backup's
                        hashing[0].result()
                        self.reader.release(hashing[1])  # its buffer takes the next one
                    if i + 1 < len(work):
                        ahead = reader.submit(self._get, *work[i + 1][1:])
                    uri = self.store.uri(obj.path)
                    hashing = hasher.submit(check_digest, obj, got.data, uri), got
                    try:
                        write_batches(self.broker, self.topic, partition, got.data)
                    except InvalidArgumentError:  # refused: name the damage if it is some
                        hashing[0].result()
                        check_crcs(got.data, uri)
                        raise
                    self.result.objects += 1
                    self.result.records += obj.records
                    self.result.bytes += obj.bytes
                assert hashing is not None
                hashing[0].result()
            except BaseException:
                ahead.cancel()
                raise

    def _get(self, obj: BackupObject, after: int) -> Read:
        got = self.reader.read(obj)
        try:
            check_batches(obj, got.data, self.store.uri(obj.path), after)
        except BaseException:
            self.reader.release(got)
            raise
        return got
