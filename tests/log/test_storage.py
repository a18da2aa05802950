"""The storage engine below the Broker: segments, indexes, rolling, retention, files."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import logway
from logway.log import Log
from logway.log import partition as partition_module
from logway.log.group_offsets import GroupOffsets
from logway.records import Message, TopicPartition


def _segments(path: Path, topic: str, partition: int = 0) -> list[str]:
    return sorted(
        p.name for p in (path / "topics" / topic / str(partition)).iterdir() if p.suffix == ".log"
    )


def test_layout_is_kafkas(tmp_path: Path) -> None:
    with Log(str(tmp_path)) as log:
        log.create_topic("orders", 2, segment_bytes=1000)
        for _ in range(10):
            log.append("orders", 1, [b"x" * 200])
    files = sorted(os.listdir(tmp_path / "topics" / "orders" / "1"))
    assert "00000000000000000000.log" in files
    assert "00000000000000000000.index" in files
    assert "00000000000000000000.timeindex" in files
    names = _segments(tmp_path, "orders", 1)
    assert len(names) > 1 and all(len(n) == 24 for n in names)
    assert (tmp_path / "topics" / "orders" / "topic.json").exists()


def test_rolls_by_size_and_reads_across_segments(tmp_path: Path) -> None:
    with Log(str(tmp_path)) as log:
        log.create_topic("t", segment_bytes=2048)
        for i in range(100):
            log.append("t", 0, [f"record-{i:03d}".encode() * 5])
        part = log.partition("t", 0)
        assert len(part.segments) > 5
        for seg in part.segments[:-1]:
            assert seg.size <= 2048
        records = part.read(0, 1000, 1 << 20)
        assert [r.offset for r in records] == list(range(100))
        assert part.read(57, 1, 1 << 20)[0].value == b"record-057" * 5


def test_rolls_by_age(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000_000]
    monkeypatch.setattr(partition_module, "now_ms", lambda: clock[0])
    with Log(str(tmp_path)) as log:
        log.create_topic("t", segment_ms=60_000)
        log.append("t", 0, [b"a"])
        clock[0] += 59_999
        log.append("t", 0, [b"b"])
        assert len(log.partition("t", 0).segments) == 1
        clock[0] += 1
        log.append("t", 0, [b"c"])
        assert [s.base_offset for s in log.partition("t", 0).segments] == [0, 2]


def test_retention_by_time_deletes_whole_old_segments(tmp_path: Path) -> None:
    with Log(str(tmp_path)) as log:
        log.create_topic("t", segment_bytes=1024, retention_ms=10_000)
        for i in range(30):
            log.append("t", 0, [Message(b"x" * 100, timestamp=1_000 + i * 1000)])
        part = log.partition("t", 0)
        segments_before = len(part.segments)
        deleted = part.apply_retention(now=25_500)  # records older than 15_500 may go
        assert deleted > 0 and len(part.segments) == segments_before - deleted
        assert part.start_offset > 0
        first = part.read(part.start_offset, 1, 1 << 20)[0]
        assert first.offset == part.start_offset
        with pytest.raises(logway.OffsetOutOfRangeError):
            part.read(0, 1, 1 << 20)
        # every remaining segment holds a record newer than the cut-off
        assert all(s.max_timestamp >= 15_500 for s in part.segments if s.size)


def test_retention_of_everything_keeps_offsets(tmp_path: Path) -> None:
    with Log(str(tmp_path)) as log:
        log.create_topic("t", retention_ms=1_000)
        log.append("t", 0, [Message(b"old", timestamp=1), Message(b"older", timestamp=2)])
        part = log.partition("t", 0)
        part.apply_retention(now=10_000_000)
        assert (part.start_offset, part.end_offset) == (2, 2)
        assert part.read(2, 10, 1 << 20) == []
    with Log(str(tmp_path)) as log:
        base, *_ = log.append("t", 0, [b"new"])
        assert base == 2
        assert log.partition("t", 0).start_offset == 2


def test_retention_by_size(tmp_path: Path) -> None:
    with Log(str(tmp_path)) as log:
        log.create_topic("t", segment_bytes=1024, retention_bytes=3000, retention_ms=-1)
        for _ in range(40):
            log.append("t", 0, [b"y" * 150])
        part = log.partition("t", 0)
        part.apply_retention()
        assert part.size - part.segments[0].size < 3000
        assert part.size >= 3000 or len(part.segments) == 1
        assert part.end_offset == 40


def test_the_background_check_applies_retention(tmp_path: Path) -> None:
    log = Log(str(tmp_path), retention_check_ms=10)
    try:
        log.create_topic("t", segment_bytes=200, retention_ms=1)
        for i in range(5):
            log.append("t", 0, [Message(b"z" * 100, timestamp=i)])
        part = log.partition("t", 0)
        deleted = threading.Event()
        original = part.apply_retention

        def observed(now: int | None = None) -> int:
            count = original(now)
            if part.start_offset == 5:
                deleted.set()
            return count

        part.apply_retention = observed  # type: ignore[method-assign]
        assert deleted.wait(30), "the maintenance thread never applied retention"
        assert part.end_offset == 5
    finally:
        log.close()


def test_missing_indexes_are_rebuilt(tmp_path: Path) -> None:
    with Log(str(tmp_path)) as log:
        log.create_topic("t", segment_bytes=4096, index_interval_bytes=256)
        for i in range(200):
            log.append("t", 0, [Message(f"v{i}".encode() * 10, timestamp=i * 10)])
    pdir = tmp_path / "topics" / "t" / "0"
    for f in pdir.iterdir():
        if f.suffix == ".index":
            f.unlink()
        elif f.suffix == ".timeindex":
            f.write_bytes(b"\x07" * 13)  # garbage that is not even whole entries
    with Log(str(tmp_path)) as log:
        part = log.partition("t", 0)
        assert part.read(137, 1, 1 << 20)[0].value == b"v137" * 10
        assert part.offset_for_time(1_555) == 156
        assert len(part.segments[0].offset_index.offsets) > 1


def test_index_lookup_finds_any_offset(tmp_path: Path) -> None:
    with Log(str(tmp_path)) as log:
        log.create_topic("t", index_interval_bytes=100)
        for i in range(300):
            log.append("t", 0, [f"{i}".encode() * 20])
        part = log.partition("t", 0)
        seg = part.segments[0]
        assert len(seg.offset_index.offsets) > 50
        for offset in (0, 1, 150, 299):
            assert part.read(offset, 1, 1)[0].value == f"{offset}".encode() * 20


def test_second_process_gets_a_clear_lock_error(tmp_path: Path) -> None:
    with Log(str(tmp_path)):
        code = (
            "import logway, sys\n"
            f"try:\n    logway.connect('file:{tmp_path}')\n"
            "except logway.DataDirLockedError as e:\n    print(e); sys.exit(3)\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 3
    assert str(os.getpid()) in result.stdout
    # after the owner closes, another process may open it
    result = subprocess.run(
        [sys.executable, "-c", f"import logway; logway.connect('file:{tmp_path}').close()"]
    )
    assert result.returncode == 0


def test_group_offsets_drop_a_torn_commit(tmp_path: Path) -> None:
    store = GroupOffsets(str(tmp_path), fsync=True)
    store.commit("g", {TopicPartition("t", 0): 5, TopicPartition("t", 1): 7})
    store.commit("g", {TopicPartition("t", 0): 9, TopicPartition("t", 1): 11})
    store.close()
    path = tmp_path / "g.offsets"
    data = path.read_bytes()
    path.write_bytes(data[:-5])  # the second commit was torn mid-write
    again = GroupOffsets(str(tmp_path), fsync=True)
    assert again.committed("g") == {TopicPartition("t", 0): 5, TopicPartition("t", 1): 7}
    again.commit("g", {TopicPartition("t", 0): 6})
    again.close()
    assert GroupOffsets(str(tmp_path), fsync=True).committed("g")[TopicPartition("t", 0)] == 6


def test_group_offsets_compact(tmp_path: Path) -> None:
    store = GroupOffsets(str(tmp_path), fsync=False)
    for i in range(2500):
        store.commit("busy/group", {TopicPartition("t", i % 3): i})
    store.close()
    size = sum(f.stat().st_size for f in tmp_path.iterdir())
    assert size < 1500 * 100  # far below 2500 commits' worth
    reopened = GroupOffsets(str(tmp_path), fsync=False)
    assert reopened.committed("busy/group") == {
        TopicPartition("t", 0): 2499,
        TopicPartition("t", 1): 2497,
        TopicPartition("t", 2): 2498,
    }


def test_fsync_policies_are_accepted(tmp_path: Path) -> None:
    for policy in ("always", "interval", "never"):
        with logway.connect(f"file:{tmp_path / policy}", fsync=policy) as broker:
            broker.create_topic("t")
            broker.produce(broker.list_topics()[0], b"x")
            assert broker.describe_topic("t").config["fsync"] == policy
        with logway.connect(f"file:{tmp_path / policy}") as broker:
            assert broker.fetch("t", 0, 0)[0].value == b"x"


def test_a_read_hands_out_the_records_before_damage_first(tmp_path: Path) -> None:
    """As Kafka does: records before a damaged batch come back; the next read reports it."""
    with Log(str(tmp_path)) as log:
        log.create_topic("t")
        for i in range(3):
            log.append("t", 0, [f"batch{i}-a".encode(), f"batch{i}-b".encode()])
    path = tmp_path / "topics" / "t" / "0" / "00000000000000000000.log"
    data = bytearray(path.read_bytes())
    data[data.index(b"batch1-b")] ^= 0x01
    path.write_bytes(data)
    with Log(str(tmp_path)) as log:
        part = log.partition("t", 0)
        assert [r.value for r in part.read(0, 100, 1 << 20)] == [b"batch0-a", b"batch0-b"]
        with pytest.raises(logway.CorruptRecordError, match="at byte"):
            part.read(2, 100, 1 << 20)
        assert [r.offset for r in part.read(4, 100, 1 << 20)] == [4, 5]


def test_a_topic_that_cannot_be_opened_is_not_created(tmp_path: Path) -> None:
    """Out of file descriptors half-way: a clear error, no topic, no leaked files."""
    code = f"""
import resource, sys, logway
with logway.connect("file:{tmp_path}") as broker:  # its partition limit: half of today's
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    try:
        broker.create_topic("huge", 1000)
    except logway.StorageError as exc:
        print(exc)
    assert broker.list_topics() == [], broker.list_topics()
    broker.create_topic("fits", 50)  # nothing leaked: the next topic still opens
    broker.produce("fits", b"x", partition=49)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "nothing was created" in result.stdout and "ulimit -n" in result.stdout
    assert sorted(p.name for p in (tmp_path / "topics").iterdir()) == ["fits"]


def test_partitions_beyond_half_the_open_files_limit_are_refused(tmp_path: Path) -> None:
    code = f"""
import resource, logway
resource.setrlimit(resource.RLIMIT_NOFILE, (400, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
with logway.connect("file:{tmp_path}") as broker:
    broker.create_topic("a", 150)
    try:
        broker.create_topic("b", 51)
    except logway.InvalidArgumentError as exc:
        print(exc)
    assert broker.list_topics() == ["a"], broker.list_topics()
    broker.create_topic("b", 50)  # exactly the limit: 200
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "holds 150 of at most 200" in result.stdout and "ulimit -n" in result.stdout
