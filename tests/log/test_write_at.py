"""Records that keep their own offsets in the storage engine: holes, a partition that
begins past 0, rolling and indexes, recovery after reopening, raw batches in and out."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import logway
from logway import Record
from logway.log import Log
from logway.log.check import check_log
from logway.recordbatch import codec


def _records(offsets: list[int], size: int = 50) -> list[Record]:
    return [
        Record("t", 0, o, 1_600_000_000_000 + o, f"k{o}".encode(), bytes([o % 251]) * size)
        for o in offsets
    ]


def _read_all(log: Log, topic: str = "t") -> list[Record]:
    part = log.partition(topic, 0)
    return part.read(part.start_offset, 1 << 30, 1 << 30)


def _key(records: list[Record]) -> list[tuple[int, int, bytes | None, bytes | None]]:
    return [(r.offset, r.timestamp, r.key, r.value) for r in records]


def _segment_names(path: Path, topic: str = "t") -> list[str]:
    return sorted(p.name for p in (path / "topics" / topic / "0").iterdir() if p.suffix == ".log")


OFFSETS = [*range(100, 160), *range(300, 340), 1000, 5000, *range(5001, 5030)]


@pytest.mark.parametrize("clean", [True, False], ids=["clean-reopen", "recovery"])
def test_holes_survive_reopening_and_check(tmp_path: Path, clean: bool) -> None:
    records = _records(OFFSETS)
    with Log(str(tmp_path)) as log:
        log.create_topic("t", segment_bytes=1500, index_interval_bytes=200)
        log.append_at("t", 0, records[:70])
        log.append_at("t", 0, records[70:])
        assert _key(_read_all(log)) == _key(records)
    if not clean:  # as after a crash: every active segment is validated from its start
        os.unlink(tmp_path / ".clean-shutdown")
    names = _segment_names(tmp_path)
    assert names[0] == "00000000000000000100.log" and len(names) > 3
    with Log(str(tmp_path)) as log:
        part = log.partition("t", 0)
        assert (part.start_offset, part.end_offset) == (100, 5030)
        assert part.truncated_bytes == 0
        assert _key(_read_all(log)) == _key(records)
        # every offset, in a record or a hole, reads from the right place (the indexes)
        for offset in (100, 137, 159, 160, 250, 300, 339, 340, 999, 1000, 1001, 4999, 5017):
            want = next(r for r in records if r.offset >= offset)
            assert part.read(offset, 1, 1 << 20)[0].offset == want.offset
        assert part.offset_for_time(1_600_000_000_000 + 2000) == 5000
        report = check_log(log)
        assert report.problems == [] and report.records == len(records)
        # the partition goes on after the last offset for producers
        assert log.append("t", 0, [b"next"])[0] == 5030


def test_an_emptied_partition_begins_at_the_first_offset(tmp_path: Path) -> None:
    with Log(str(tmp_path)) as log:
        log.create_topic("t", segment_bytes=500, retention_ms=1000)
        for _ in range(10):
            log.append("t", 0, [b"x" * 300])
        part = log.partition("t", 0)
        part.apply_retention(now=4_000_000_000_000)  # everything is older than a second
        assert part.empty and (part.start_offset, part.end_offset) == (10, 10)
        with pytest.raises(logway.InvalidArgumentError, match="end offset is 10"):
            log.append_at("t", 0, _records([9]))
        log.append_at("t", 0, _records([70, 71]))
        assert (part.start_offset, part.end_offset) == (70, 72)
    assert _segment_names(tmp_path) == ["00000000000000000070.log"]


def test_a_hole_wider_than_a_batch_can_span_is_refused(tmp_path: Path) -> None:
    far = codec.MAX_OFFSET_DELTA + 10
    with Log(str(tmp_path)) as log:
        log.create_topic("t")
        log.append_at("t", 0, _records([far]))  # an empty partition may begin anywhere
        assert log.partition("t", 0).start_offset == far
        with pytest.raises(logway.InvalidArgumentError, match="too far apart"):
            log.append_at("t", 0, _records([far + 1, 2 * far + 5]))
        assert log.partition("t", 0).end_offset == far + 1


def test_records_larger_than_the_topic_allows_are_refused(tmp_path: Path) -> None:
    with Log(str(tmp_path)) as log:
        log.create_topic("t", max_record_bytes=100)
        with pytest.raises(logway.RecordTooLargeError, match="max_record_bytes"):
            log.append_at("t", 0, _records([0, 1, 2], size=40) + _records([3], size=400))
        assert log.partition("t", 0).end_offset == 0


def test_batches_are_stored_as_they_are(tmp_path: Path) -> None:
    records = _records(OFFSETS)
    with Log(str(tmp_path)) as log:
        log.create_topic("t", segment_bytes=2000)
        log.create_topic("u", compression="zstd")
        log.append_at("u", 0, records)
        data = log.partition("u", 0).read_batches(100, 1 << 30)
        log.append_batches("t", 0, data)
        assert _key(_read_all(log)) == _key(records)
        assert check_log(log).problems == []
        # what comes out is what went in: the compressed batches, byte for byte
        assert log.partition("t", 0).read_batches(100, 1 << 30) == data
        # from an offset inside a batch: that batch is cut to the records from there
        tail = log.partition("t", 0).read_batches(130, 1 << 30)
        assert [r.offset for r in codec.decode_wire(tail)] == [o for o in OFFSETS if o >= 130]


def test_a_batch_past_a_hole_is_based_at_the_end(tmp_path: Path) -> None:
    """Batches from elsewhere may leave holes between them; the log re-bases the one
    after a hole so that its batches still chain."""
    data = codec.encode_wire(_records([0, 1, 2, 10, 11, 40]))
    with Log(str(tmp_path)) as log:
        log.create_topic("t", segment_bytes=1000)
        log.append_batches("t", 0, data)
        assert [r.offset for r in _read_all(log)] == [0, 1, 2, 10, 11, 40]
        assert check_log(log).problems == []


@pytest.mark.parametrize(
    "damage", ["crc", "order", "truncated", "transactional"], ids=lambda d: str(d)
)
def test_bad_batches_are_refused_and_nothing_is_stored(tmp_path: Path, damage: str) -> None:
    first = bytearray(codec.encode_wire(_records([0, 1, 2])))
    second = bytearray(codec.encode_wire(_records([3, 4])))
    if damage == "crc":
        second[-1] ^= 0xFF
    elif damage == "order":
        codec.set_base_offset(second, 1)
    elif damage == "truncated":
        second = second[:-3]
    else:  # the attributes (int16 where the CRC's coverage starts) say transactional
        at = codec.CRC_START
        attributes = int.from_bytes(second[at : at + 2], "big") | codec.TRANSACTIONAL
        second[at : at + 2] = attributes.to_bytes(2, "big")
        second[at - 4 : at] = codec.crc32c(bytes(second[at:])).to_bytes(4, "big")
    with Log(str(tmp_path)) as log:
        log.create_topic("t")
        with pytest.raises(logway.InvalidArgumentError, match="batch 1"):
            log.append_batches("t", 0, bytes(first + second))
        assert log.partition("t", 0).end_offset == 0
        assert log.partition("t", 0).size == 0


def test_damage_in_a_segment_is_reported_by_a_raw_read(tmp_path: Path) -> None:
    with Log(str(tmp_path)) as log:
        log.create_topic("t")
        for _ in range(5):
            log.append("t", 0, [b"y" * 100] * 10)
        seg = log.partition("t", 0).segments[0]
        with open(seg.path, "r+b") as f:
            f.seek(seg.size - 20)
            byte = f.read(1)
            f.seek(seg.size - 20)
            f.write(bytes([byte[0] ^ 0x01]))
        with pytest.raises(logway.CorruptRecordError, match=r"00000000000000000000\.log"):
            log.partition("t", 0).read_batches(0, 1 << 30)


gaps = st.lists(st.sampled_from([1, 1, 1, 1, 2, 7, 1000]), min_size=1, max_size=60)


@given(
    st.integers(min_value=0, max_value=10**6),
    gaps,
    st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=5),
    st.sampled_from(["none", "zstd"]),
    st.booleans(),
)
@settings(max_examples=40)
def test_any_offsets_come_back_as_written(
    tmp_path_factory: pytest.TempPathFactory,
    first: int,
    steps: list[int],
    cuts: list[int],
    compression: str,
    raw: bool,
) -> None:
    """Offsets with any holes, written in any pieces (as records or as batches), read
    back identical, survive recovery, and pass ``logway check``."""
    offsets = [first]
    for step in steps:
        offsets.append(offsets[-1] + step)
    records = _records(offsets, size=30)
    path = tmp_path_factory.mktemp("log")
    with Log(str(path)) as log:
        log.create_topic("t", segment_bytes=700, compression=compression)
        at = 0
        for cut in [*cuts, len(records)]:
            piece = records[at : at + cut]
            if piece and raw:
                log.append_batches("t", 0, codec.encode_wire(piece))
            elif piece:
                log.append_at("t", 0, piece)
            at += cut
        assert _key(_read_all(log)) == _key(records)
    os.unlink(path / ".clean-shutdown")
    with Log(str(path)) as log:
        part = log.partition("t", 0)
        assert (part.start_offset, part.end_offset) == (first, offsets[-1] + 1)
        assert _key(_read_all(log)) == _key(records)
        assert check_log(log).problems == []
