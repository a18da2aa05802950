"""Silent corruption: one byte flipped inside a record value of a batch in the middle
of a segment (sealed or active). The damaged batch is never served: reads of it
raise ``CorruptRecordError`` naming the file and byte; the batches around it stay
readable; nothing is cut; ``logway check`` reports the damage and fails."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

import logway
from logway import Message
from tests.reliability.conftest import (
    Batch,
    fetch_all,
    mark_unclean,
    read_batches,
    run_check,
    segment_logs,
    url,
)

pytestmark = pytest.mark.slow

TOPIC = "t"


def _write(data: Path, compression: str) -> list[logway.Record]:
    """Batches of three records over several 4 KiB segments, the active one holding
    at least five batches."""
    rng = random.Random(11)
    with logway.connect(url(data)) as broker:
        broker.create_topic(TOPIC, segment_bytes=4096, compression=compression)
        call = 0
        while (
            len(segment_logs(data, TOPIC)) < 4
            or len(read_batches(segment_logs(data, TOPIC)[-1])) < 5
        ):
            broker.produce_many(
                TOPIC,
                [
                    Message(
                        f"VALUE-{call:04d}-{j}-".encode() + rng.randbytes(rng.randint(60, 140)),
                        key=f"key-{call}",
                        headers={"call": str(call), "j": str(j)},
                        timestamp=1_700_000_000_000 + call * 1000 + j,
                    )
                    for j in range(3)
                ],
            )
            call += 1
        return fetch_all(broker, TOPIC)


def _flip_inside_a_value(
    path: Path, victim: Batch, records: list[logway.Record], compressed: bool
) -> int:
    """Flip one byte in the middle of a record value of ``victim`` (of its compressed
    records when the topic compresses); returns its position."""
    raw = path.read_bytes()
    value = records[victim.base_offset + 1].value
    assert value is not None
    if compressed:  # the middle of the compressed records
        at = victim.position + 61 + (victim.size - 61) // 2
    else:
        at = raw.find(value, victim.position, victim.end)
        assert at > victim.position + 61, "the value must lie inside the victim batch"
        at += len(value) // 2
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(bytes([raw[at] ^ 0xFF]))
    return at


@pytest.mark.parametrize("compression", ["none", "zstd"])
@pytest.mark.parametrize("reopen", ["clean", "unclean"])
@pytest.mark.parametrize("segment", ["sealed", "active"])
def test_a_flipped_byte_is_reported_and_never_served(
    tmp_path: Path, segment: str, reopen: str, compression: str
) -> None:
    data = tmp_path / "data"
    records = _write(data, compression)
    logs = segment_logs(data, TOPIC)
    target = logs[1] if segment == "sealed" else logs[-1]
    batches = read_batches(target)
    victim = batches[len(batches) // 2]
    assert victim is not batches[-1] and victim is not batches[0]
    flipped_at = _flip_inside_a_value(target, victim, records, compression != "none")
    sizes = {p: p.stat().st_size for p in logs}
    if reopen == "unclean":
        mark_unclean(data)
    path = os.path.abspath(target)
    damaged = range(victim.base_offset, victim.next_offset)
    end = len(records)

    with logway.connect(url(data)) as broker:
        # the damage is not mistaken for a torn tail: nothing is cut, no offset moves
        assert {p: p.stat().st_size for p in logs} == sizes
        assert broker.log.partition(TOPIC, 0).truncated_bytes == 0  # type: ignore[attr-defined]
        assert (broker.start_offsets(TOPIC)[0], broker.end_offsets(TOPIC)[0]) == (0, end)

        for offset in damaged:
            with pytest.raises(logway.CorruptRecordError) as info:
                broker.fetch(TOPIC, 0, offset)
            message = str(info.value)
            assert path in message and f"byte {victim.position}" in message, message
            assert (info.value.path, info.value.position) == (path, victim.position)
            assert victim.position <= flipped_at < victim.end
        # every record of the other batches, before and after, at its own offset
        for rec in records:
            if rec.offset not in damaged:
                assert broker.fetch(TOPIC, 0, rec.offset, max_records=1) == [rec]
        assert (
            broker.fetch(TOPIC, 0, 0, max_records=victim.base_offset)
            == records[: victim.base_offset]
        )
        assert fetch_all(broker, TOPIC, start=victim.next_offset) == records[victim.next_offset :]
        # the partition still takes appends, at the end offset
        assert broker.produce(TOPIC, b"after the damage").offset == end

    result = run_check(data)
    assert result.returncode != 0
    assert f"{path} at byte {victim.position}" in result.stderr, result.stderr
    assert result.stderr.count("CORRUPT") == 1, result.stderr


# where one flipped bit lands in a batch header: baseOffset (outside the CRC), magic
# (outside the CRC), lastOffsetDelta (inside the CRC, but it frames the offsets)
HEADER_FIELDS = {"base_offset": 7, "magic": 16, "last_offset_delta": 26}


@pytest.mark.parametrize("reopen", ["clean", "unclean"])
@pytest.mark.parametrize("field", list(HEADER_FIELDS))
def test_a_damaged_batch_header_costs_no_acknowledged_batch_after_it(
    tmp_path: Path, field: str, reopen: str
) -> None:
    """A bit flipped in the header of a batch in the middle of the active segment is
    damage, not a torn write: the complete batches after it must not be cut, and no
    offset may be handed out twice. The open may refuse the directory with
    ``CorruptRecordError`` naming the file and byte, or open it with the damaged batch
    unreadable; either way ``logway check`` reports it."""
    data = tmp_path / "data"
    records = _write(data, "none")
    target = segment_logs(data, TOPIC)[-1]
    batches = read_batches(target)
    victim = batches[len(batches) // 2]
    assert batches[-1].end - victim.end > 3 * 61, "complete batches follow the victim"
    with open(target, "r+b") as f:
        at = victim.position + HEADER_FIELDS[field]
        f.seek(at)
        byte = f.read(1)[0]
        f.seek(at)
        f.write(bytes([byte ^ (0x40 if field == "magic" else 0x01)]))
    size = target.stat().st_size
    if reopen == "unclean":
        mark_unclean(data)
    path = os.path.abspath(target)
    end = len(records)

    try:
        broker = logway.connect(url(data))
    except logway.CorruptRecordError as exc:  # refusing the directory is an honest answer
        assert (exc.path, exc.position) == (path, victim.position), str(exc)
        broker = None
    if broker is not None:
        with broker:
            assert target.stat().st_size == size, (
                f"{size - target.stat().st_size} bytes of complete, acknowledged batches "
                "after the damaged header were cut off as if they were a torn write"
            )
            assert broker.end_offsets(TOPIC)[0] == end, "offsets would be reused or skipped"
            with pytest.raises(logway.CorruptRecordError) as info:
                broker.fetch(TOPIC, 0, victim.base_offset)
            assert (info.value.path, info.value.position) == (path, victim.position)
            for rec in records[: victim.base_offset]:
                assert broker.fetch(TOPIC, 0, rec.offset, max_records=1) == [rec]
            assert broker.produce(TOPIC, b"after the damage").offset == end

    result = run_check(data)
    assert result.returncode != 0, result.stdout
    assert path in result.stderr and f"byte {victim.position}" in result.stderr, result.stderr
