"""Backup and restore on the embedded backend, into a directory and a real S3 server:
records come back identical (offsets too), runs are incremental, damage is named,
and a failed restore leaves no topic behind."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import logway
from logway import Record
from logway.backends.embedded import EmbeddedBroker
from logway.backup import BackupObject, backup, marker_topic, read_manifest, restore
from logway.backup.object_reader import ObjectReader
from logway.objectstore import ObjectMissingError, open_store
from tests.backup.records import RECENT, all_records, assert_same, produce


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    b = logway.connect(f"file:{tmp_path / 'data'}")
    assert isinstance(b, EmbeddedBroker)
    yield b
    b.close()


@pytest.fixture(params=["dir", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "dir":
        return str(tmp_path / "backup")
    return f"s3://{request.getfixturevalue('s3_bucket')}/backups/daily"


def test_round_trip(broker: EmbeddedBroker, store_url: str) -> None:
    broker.create_topic("orders", partitions=3, retention_ms="30d", compression="zstd")
    produce(broker, "orders", 3000)
    result = backup(broker, "orders", store_url, object_bytes="16KB")
    assert result.records == 3000 and len(result.objects) > 3
    assert not result.gaps and not result.removed
    restored = restore(broker, store_url, "orders-restored")
    assert (restored.records, restored.objects) == (3000, len(result.objects))
    assert restored.source_topic == "orders" and not restored.warnings
    assert_same(broker, "orders", "orders-restored")
    assert broker.describe_topic("orders-restored").config == broker.describe_topic("orders").config
    assert marker_topic("orders-restored") not in broker.list_topics()


def test_layout_and_manifest(broker: EmbeddedBroker, tmp_path: Path) -> None:
    broker.create_topic("t", partitions=2)
    produce(broker, "t", 1000)
    result = backup(broker, "t", f"file:{tmp_path / 'b'}", object_bytes="8KB")
    doc = json.loads((tmp_path / "b" / "t" / "manifest.json").read_text())
    assert (doc["format"], doc["version"], doc["topic"], doc["checksum"]) == (
        "logway-backup",
        1,
        "t",
        "sha256",
    )
    assert doc["partition_count"] == 2 and doc["config"] == broker.describe_topic("t").config
    ends = broker.end_offsets("t")
    for p, part in enumerate(doc["partitions"]):
        assert (part["partition"], part["start_offset"], part["end_offset"]) == (p, 0, ends[p])
        names = sorted(os.listdir(tmp_path / "b" / "t" / str(p)))
        assert names == [o["path"].split("/")[-1] for o in part["objects"]]
        first = part["objects"][0]
        assert names[0] == f"{0:020d}-{first['last_offset']:020d}.batches"
        assert part["objects"][-1]["last_offset"] == ends[p] - 1
        assert sum(o["records"] for o in part["objects"]) == ends[p]
        for o in part["objects"]:
            assert o["bytes"] == (tmp_path / "b" / o["path"]).stat().st_size
            assert len(o["sha256"]) == 64
    assert sum(len(p["objects"]) for p in doc["partitions"]) == len(result.objects)


def test_a_topic_that_starts_past_zero_keeps_its_offsets(
    broker: EmbeddedBroker, store_url: str
) -> None:
    """Retention moved the start offset; write_at left holes; both come back as they were."""
    broker.create_topic("t", partitions=2, segment_bytes=4000, retention_bytes=12_000)
    for _ in range(8):
        produce(broker, "t", 600)
    broker.apply_retention()
    starts = broker.start_offsets("t")
    assert all(s > 0 for s in starts.values())
    end = broker.end_offsets("t")[1]
    holes = [end + 3, end + 10, 10**6, 10**6 + 5]
    broker.write_at("t", 1, [Record("t", 1, o, RECENT, b"k", b"v") for o in holes])
    backup(broker, "t", store_url, object_bytes="5KB")
    restore(broker, store_url, "t2")
    assert_same(broker, "t", "t2")


def test_second_run_writes_only_new_objects(broker: EmbeddedBroker, tmp_path: Path) -> None:
    dest = str(tmp_path / "b")
    broker.create_topic("t", partitions=3)
    produce(broker, "t", 2000)
    first = backup(broker, "t", dest, object_bytes="8KB")
    before = {o.path: (tmp_path / "b" / o.path).stat().st_mtime_ns for o in first.objects}
    nothing = backup(broker, "t", dest, object_bytes="8KB")
    assert nothing.objects == [] and nothing.records == 0
    produce(broker, "t", 500, start=2000)
    second = backup(broker, "t", dest, object_bytes="8KB")
    assert second.records == 500
    assert not {o.path for o in second.objects} & set(before)
    ends_before = {p.partition: p for p in first.manifest.partitions}  # type: ignore[union-attr]
    for o in second.objects:
        partition = int(o.path.split("/")[1])
        assert o.first_offset >= ends_before[partition].end_offset
    # the first run's objects are untouched
    assert {p: (tmp_path / "b" / p).stat().st_mtime_ns for p in before} == before
    manifest = read_manifest(open_store(dest), "t")
    assert manifest is not None and manifest.runs == 3 and manifest.records == 2500
    assert manifest.paths == set(before) | {o.path for o in second.objects}
    restore(broker, dest, "t2")
    assert_same(broker, "t", "t2")


def test_records_lost_to_retention_between_runs_are_a_recorded_gap(
    broker: EmbeddedBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dest = str(tmp_path / "b")
    broker.create_topic("t", segment_bytes=3000, retention_bytes=9000)
    produce(broker, "t", 300)
    first = backup(broker, "t", dest)
    backed_up_to = broker.end_offsets("t")[0]
    assert broker.start_offsets("t")[0] == 0
    for _ in range(10):
        produce(broker, "t", 300)
    broker.apply_retention()
    start = broker.start_offsets("t")[0]
    assert start > backed_up_to
    with caplog.at_level(logging.WARNING, logger="logway.backup"):
        second = backup(broker, "t", dest)
    assert f"offsets {backed_up_to} to {start - 1} of t/0 were deleted by retention" in caplog.text
    (gap,) = second.gaps[0]
    assert (gap.from_offset, gap.to_offset) == (backed_up_to, start)
    manifest = read_manifest(open_store(dest), "t")
    assert manifest is not None
    assert [(g.from_offset, g.to_offset) for g in manifest.partitions[0].gaps] == [
        (backed_up_to, start)
    ]
    assert manifest.records == first.records + broker.end_offsets("t")[0] - start
    # the restore has the records on both sides of the gap, at their offsets
    result = restore(broker, dest, "t2", config={"retention_bytes": -1})
    assert result.gaps[0][0].from_offset == backed_up_to
    got = all_records(broker, "t2", 0)
    assert [r.offset for r in got] == [
        *range(backed_up_to),
        *range(start, broker.end_offsets("t")[0]),
    ]


def test_objects_an_interrupted_run_left_are_removed(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """A run killed after writing objects but before its manifest leaves objects no
    manifest lists; the next run removes them and writes its own."""
    dest = tmp_path / "b"
    broker.create_topic("t")
    produce(broker, "t", 1000)
    crashed = backup(broker, "t", str(dest), object_bytes="8KB")
    (dest / "t" / "manifest.json").unlink()  # as if the run died before writing it
    stray = dest / "t" / "0" / f"{5000:020d}-{5999:020d}.batches"
    stray.write_bytes(b"half an object")
    rerun = backup(broker, "t", str(dest), object_bytes="8KB")
    assert sorted(rerun.removed) == sorted(
        [o.path for o in crashed.objects] + [f"t/0/{stray.name}"]
    )
    assert not stray.exists()
    listed = {o.path for o in rerun.objects}
    on_disk = {f"t/0/{n}" for n in os.listdir(dest / "t" / "0")}
    assert on_disk == listed
    restore(broker, str(dest), "t2")
    assert_same(broker, "t", "t2")


def _backup_for_damage(broker: EmbeddedBroker, dest: str) -> list[str]:
    broker.create_topic("t", partitions=2)
    produce(broker, "t", 2000)
    return [o.path for o in backup(broker, "t", dest, object_bytes="8KB").objects]


def test_a_flipped_byte_fails_the_restore_by_name(broker: EmbeddedBroker, tmp_path: Path) -> None:
    """The log refuses the damaged batch by its CRC, storing nothing of the object, and
    the restore names the object by its digest."""
    dest = tmp_path / "b"
    paths = _backup_for_damage(broker, str(dest))
    victim = dest / paths[len(paths) // 2 + 1]  # an object well into the restore
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x20
    victim.write_bytes(bytes(data))
    with pytest.raises(logway.CorruptRecordError, match=victim.name) as failure:
        restore(broker, str(dest), "t2")
    assert "SHA-256" in str(failure.value)
    assert "t2" not in broker.list_topics()
    assert marker_topic("t2") not in broker.list_topics()


@pytest.mark.parametrize("which", ["middle", "last"])
def test_damage_outside_the_crcs_is_found_by_the_digest(
    broker: EmbeddedBroker, tmp_path: Path, which: str
) -> None:
    """A batch's leader epoch lies before the part its CRC covers: only the object's
    SHA-256, taken while its records are written, finds a change there. The restore
    fails naming the object, the last one too (its digest is checked after the write),
    and deletes the topic it had begun."""
    dest = tmp_path / "b"
    paths = _backup_for_damage(broker, str(dest))
    victim = dest / paths[len(paths) // 2 if which == "middle" else -1]
    data = bytearray(victim.read_bytes())
    data[15] ^= 0x01  # the first batch's partition leader epoch (bytes 12 to 15)
    victim.write_bytes(bytes(data))
    with pytest.raises(logway.CorruptRecordError, match=victim.name) as failure:
        restore(broker, str(dest), "t2")
    assert "SHA-256" in str(failure.value)
    assert "t2" not in broker.list_topics()
    assert marker_topic("t2") not in broker.list_topics()


def test_a_flipped_byte_in_batches_with_a_matching_digest_is_found_by_the_crc(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """Damage made before the digest was taken (the manifest agrees with the object):
    the batch CRC still finds it."""
    dest = tmp_path / "b"
    paths = _backup_for_damage(broker, str(dest))
    victim = dest / paths[-1]
    data = bytearray(victim.read_bytes())
    data[-5] ^= 0x01
    victim.write_bytes(bytes(data))
    manifest_file = dest / "t" / "manifest.json"
    doc = json.loads(manifest_file.read_text())
    for part in doc["partitions"]:
        for o in part["objects"]:
            if o["path"] == paths[-1]:
                o["sha256"] = hashlib.sha256(bytes(data)).hexdigest()
    manifest_file.write_text(json.dumps(doc))
    with pytest.raises(logway.CorruptRecordError, match=f"{victim.name}.*CRC"):
        restore(broker, str(dest), "t2")
    assert "t2" not in broker.list_topics()


def test_a_missing_object_fails_the_restore_by_name(broker: EmbeddedBroker, store_url: str) -> None:
    paths = _backup_for_damage(broker, store_url)
    open_store(store_url).delete(paths[3])
    with pytest.raises(logway.CorruptRecordError, match=f"{paths[3]} is missing"):
        restore(broker, store_url, "t2")
    assert "t2" not in broker.list_topics()
    assert marker_topic("t2") not in broker.list_topics()


def test_a_damaged_manifest_is_named(broker: EmbeddedBroker, tmp_path: Path) -> None:
    dest = tmp_path / "b"
    _backup_for_damage(broker, str(dest))
    (dest / "t" / "manifest.json").write_text('{"format": "logway-backup", "version": 1')
    with pytest.raises(logway.CorruptRecordError, match=r"manifest .*t/manifest\.json"):
        restore(broker, str(dest), "t2")
    with pytest.raises(logway.CorruptRecordError, match="manifest"):
        backup(broker, "t", str(dest))
    assert "t2" not in broker.list_topics()


def test_an_interrupted_restore_is_found_and_can_be_replaced(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """What a killed restore leaves: the new topic, part-filled, and its marker."""
    dest = str(tmp_path / "b")
    _backup_for_damage(broker, dest)
    broker.create_topic(marker_topic("t2"))
    broker.create_topic("t2", partitions=2)
    broker.produce("t2", b"part of what was restored", partition=0)
    with pytest.raises(logway.TopicExistsError, match="interrupted restore"):
        restore(broker, dest, "t2")
    assert broker.end_offsets("t2") == {0: 1, 1: 0}
    result = restore(broker, dest, "t2", replace_incomplete=True)
    assert result.replaced_incomplete
    assert_same(broker, "t", "t2")
    assert marker_topic("t2") not in broker.list_topics()


def test_bad_arguments_are_refused_and_nothing_is_stored(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    dest = tmp_path / "b"
    broker.create_topic("t")
    produce(broker, "t", 100)
    with pytest.raises(logway.UnknownTopicError):
        backup(broker, "missing", str(dest))
    with pytest.raises(logway.InvalidArgumentError, match="unknown destination scheme"):
        backup(broker, "t", "ftp://host/dir")
    with pytest.raises(logway.InvalidArgumentError, match="object_bytes"):
        backup(broker, "t", str(dest), object_bytes="lots")
    with pytest.raises(logway.InvalidArgumentError, match="object_bytes"):
        backup(broker, "t", str(dest), object_bytes=0)
    assert not dest.exists()
    with pytest.raises(logway.InvalidArgumentError, match="holds no backup"):
        restore(broker, str(dest), "t2")
    backup(broker, "t", str(dest))
    topics = broker.list_topics()
    with pytest.raises(logway.TopicExistsError, match="already exists"):
        restore(broker, str(dest), "t")
    with pytest.raises(logway.InvalidArgumentError, match="no backup of topic 'other'"):
        restore(broker, str(dest), "t2", source_topic="other")
    with pytest.raises(logway.InvalidTopicNameError, match="bad name"):
        restore(broker, str(dest), "bad name")
    with pytest.raises(logway.InvalidArgumentError, match="unknown topic setting"):
        restore(broker, str(dest), "t2", config={"bogus": 1})
    assert broker.list_topics() == topics
    assert broker.end_offsets("t") == {0: 100}


def test_several_topics_in_one_destination(broker: EmbeddedBroker, tmp_path: Path) -> None:
    dest = str(tmp_path / "b")
    for name in ("a", "b"):
        broker.create_topic(name, partitions=2)
        produce(broker, name, 300)
        backup(broker, name, dest)
    with pytest.raises(logway.InvalidArgumentError, match=r"several topics \(a, b\)"):
        restore(broker, dest, "x")
    restore(broker, dest, "b2", source_topic="b")
    assert_same(broker, "b", "b2")


def test_a_topic_created_again_is_not_mixed_into_its_old_backup(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    dest = str(tmp_path / "b")
    broker.create_topic("t")
    produce(broker, "t", 500)
    backup(broker, "t", dest)
    broker.delete_topic("t")
    broker.create_topic("t")
    produce(broker, "t", 10)
    with pytest.raises(logway.InvalidArgumentError, match="created again"):
        backup(broker, "t", dest)
    manifest = read_manifest(open_store(dest), "t")
    assert manifest is not None and manifest.records == 500


def test_objects_are_read_whole_without_a_copy(store_url: str) -> None:
    """``ObjectStore.get_view``, which a restore reads objects with: the same bytes as
    ``get``, and a missing object is named."""
    store = open_store(store_url)
    data = os.urandom(3 << 20)
    store.put("t/0/x.batches", [data[:1000], data[1000:]])
    view = store.get_view("t/0/x.batches")
    assert view.readonly and view == data == store.get("t/0/x.batches")
    with pytest.raises(ObjectMissingError, match=r"t/0/y\.batches does not exist"):
        store.get_view("t/0/y.batches")


def test_local_objects_are_read_into_buffers_used_again(tmp_path: Path) -> None:
    """A restore's reader: an object's buffer holds a later object once released, never
    while it is held; one too long reads a byte more (for the checks to refuse)."""
    store = open_store(str(tmp_path / "b"))
    big, small = os.urandom(3 << 20), os.urandom(1 << 20)
    store.put("t/0/a.batches", big)
    store.put("t/0/b.batches", small)

    def entry(path: str, size: int) -> BackupObject:
        return BackupObject(path, 0, 0, 1, size, "")

    reader = ObjectReader(store)
    first = reader.read(entry("t/0/a.batches", len(big)))
    assert first.data == big and first.buffer is not None
    held = reader.read(entry("t/0/b.batches", len(small)))
    assert held.data == small and held.buffer is not first.buffer
    reader.release(first)
    again = reader.read(entry("t/0/b.batches", len(small)))
    assert again.data == small and again.buffer is first.buffer
    assert held.data == small  # untouched by the reads after it
    longer = reader.read(entry("t/0/a.batches", 1000))
    assert longer.data == big[:1001]
    with pytest.raises(logway.CorruptRecordError, match=r"t/0/c\.batches is missing"):
        reader.read(entry("t/0/c.batches", 10))
