"""The manifest of a topic's backup, ``TOPIC/manifest.json``: what the backup holds and
how to check it.

    {"format": "logway-backup", "version": 1, "topic": "orders", "partition_count": 3,
     "config": {...describe_topic...}, "checksum": "sha256",
     "created_at": "...", "updated_at": "...", "runs": 2,
     "partitions": [
       {"partition": 0, "start_offset": 0, "end_offset": 1200,
        "objects": [{"path": "orders/0/00000000000000000000-00000000000000001199.batches",
                     "first_offset": 0, "last_offset": 1199, "records": 1200,
                     "bytes": 1282000, "sha256": "9f2c..."}],
        "gaps": [{"from_offset": 1200, "to_offset": 1300, "found_at": "..."}]}]}

``start_offset`` is where the partition started when the backup began; ``end_offset``
the offset after what the backup holds (the next run continues there). A gap is a
range of offsets that retention deleted from the topic before a run could copy them.
The manifest is written after the objects it lists, in one atomic put, so whatever a
manifest lists exists whole.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from logway.errors import CorruptRecordError
from logway.objectstore import ObjectMissingError, ObjectStore

FORMAT = "logway-backup"
VERSION = 1
CHECKSUM = "sha256"
MANIFEST = "manifest.json"
SUFFIX = ".batches"


def manifest_path(topic: str) -> str:
    return f"{topic}/{MANIFEST}"


def object_path(topic: str, partition: int, first: int, last: int) -> str:
    """``TOPIC/PARTITION/FIRST-LAST.batches``, offsets zero-padded to 20 digits (as
    Kafka names segments) so that names sort as offsets do."""
    return f"{topic}/{partition}/{first:020d}-{last:020d}{SUFFIX}"


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class BackupObject:
    """One object of RecordBatch v2 data: offsets ``first_offset`` to ``last_offset``
    (the first batch's base offset, the last batch's last offset)."""

    path: str
    first_offset: int
    last_offset: int
    records: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Gap:
    """Offsets ``from_offset`` up to (not including) ``to_offset`` that retention deleted
    from the topic before a backup run could copy them."""

    from_offset: int
    to_offset: int
    found_at: str


@dataclass
class PartitionBackup:
    partition: int
    start_offset: int
    end_offset: int
    objects: list[BackupObject] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)

    @property
    def records(self) -> int:
        return sum(o.records for o in self.objects)

    @property
    def total_bytes(self) -> int:
        return sum(o.bytes for o in self.objects)


@dataclass
class Manifest:
    topic: str
    partition_count: int
    config: dict[str, Any]
    partitions: list[PartitionBackup]
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    runs: int = 0

    @property
    def records(self) -> int:
        return sum(p.records for p in self.partitions)

    @property
    def total_bytes(self) -> int:
        return sum(p.total_bytes for p in self.partitions)

    @property
    def paths(self) -> set[str]:
        return {o.path for p in self.partitions for o in p.objects}

    def to_json(self) -> bytes:
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "topic": self.topic,
            "partition_count": self.partition_count,
            "config": self.config,
            "checksum": CHECKSUM,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "runs": self.runs,
            "partitions": [
                {
                    "partition": p.partition,
                    "start_offset": p.start_offset,
                    "end_offset": p.end_offset,
                    "objects": [o.__dict__ for o in p.objects],
                    "gaps": [g.__dict__ for g in p.gaps],
                }
                for p in self.partitions
            ],
        }
        return json.dumps(doc, indent=1).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        """Parse and check a manifest; ``CorruptRecordError`` naming ``where`` if it is
        not one this version of logway reads."""
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise ValueError(f"it is not a {FORMAT} manifest")
            if doc.get("version") != VERSION:
                raise ValueError(
                    f"it has format version {doc.get('version')!r}; this logway reads "
                    f"version {VERSION}"
                )
            if doc.get("checksum") != CHECKSUM:
                raise ValueError(f"its checksum is {doc.get('checksum')!r}, not {CHECKSUM}")
            partitions = [
                PartitionBackup(
                    int(p["partition"]),
                    int(p["start_offset"]),
                    int(p["end_offset"]),
                    [BackupObject(**o) for o in p["objects"]],
                    [Gap(**g) for g in p["gaps"]],
                )
                for p in doc["partitions"]
            ]
            manifest = cls(
                str(doc["topic"]),
                int(doc["partition_count"]),
                dict(doc["config"]),
                partitions,
                str(doc["created_at"]),
                str(doc["updated_at"]),
                int(doc["runs"]),
            )
            manifest.check()
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            why = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise CorruptRecordError(f"backup manifest {where} is damaged: {why}") from None
        return manifest

    def check(self) -> None:
        """``ValueError`` unless partitions and objects are in order and consistent."""
        if [p.partition for p in self.partitions] != list(range(self.partition_count)):
            raise ValueError("its partitions are not 0 to partition_count - 1")
        for p in self.partitions:
            at = p.start_offset
            for o in p.objects:
                expected = object_path(self.topic, p.partition, o.first_offset, o.last_offset)
                if o.path != expected:
                    raise ValueError(f"object {o.path!r} should be named {expected!r}")
                if o.first_offset < at or o.last_offset < o.first_offset:
                    raise ValueError(f"object {o.path} overlaps the data before it")
                at = o.last_offset + 1
            if p.end_offset < at:
                raise ValueError(f"partition {p.partition} ends before its last object")


def read_manifest(store: ObjectStore, topic: str) -> Manifest | None:
    """The manifest of ``topic``'s backup in ``store``, or None if there is none yet."""
    path = manifest_path(topic)
    try:
        data = store.get(path)
    except ObjectMissingError:
        return None
    manifest = Manifest.from_json(data, store.uri(path))
    if manifest.topic != topic:
        raise CorruptRecordError(
            f"backup manifest {store.uri(path)} is of topic {manifest.topic!r}, not {topic!r}"
        )
    return manifest


def backed_up_topics(store: ObjectStore) -> list[str]:
    """The topics ``store`` holds backups of (those with a manifest)."""
    out = []
    for info in store.list():
        parts = info.path.split("/")
        if len(parts) == 2 and parts[1] == MANIFEST:
            out.append(parts[0])
    return sorted(out)
