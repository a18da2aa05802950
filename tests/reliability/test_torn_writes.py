"""Torn writes: the tail of the active segment is cut mid-batch or followed by junk,
as a crash during a write leaves it; an unclean open must cut exactly the torn
tail, keep every complete batch and append at the right offset afterwards."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import logway
from logway import Message
from tests.reliability.conftest import (
    fetch_all,
    mark_unclean,
    read_batches,
    run_check,
    segment_logs,
    url,
)

pytestmark = pytest.mark.slow

TOPIC = "t"


def _write_records(data: Path, compression: str, roll_last: bool) -> list[logway.Record]:
    """A few segments of single records and batches with keys, headers, timestamps;
    with ``roll_last`` the last batch is alone in a freshly rolled segment."""
    rng = random.Random(7)
    with logway.connect(url(data)) as broker:
        broker.create_topic(TOPIC, segment_bytes=4096, compression=compression)
        for call in range(60):
            if call % 3 == 0:
                broker.produce(
                    TOPIC,
                    rng.randbytes(rng.randint(0, 300)),
                    key=f"key-{call}",
                    headers={"call": str(call)},
                    timestamp=1_700_000_000_000 + call,
                )
            else:
                broker.produce_many(
                    TOPIC,
                    [
                        Message(
                            f"call {call} record {j} ".encode()
                            + rng.randbytes(rng.randint(0, 200)),
                            key=None if j % 2 else f"k{j}".encode(),
                            headers=[("j", str(j).encode()), ("nil", None)],
                        )
                        for j in range(rng.randint(2, 6))
                    ],
                )
        if roll_last:  # larger than a segment: it rolls and has a segment of its own
            broker.produce_many(TOPIC, [rng.randbytes(2500), rng.randbytes(2500)])
            assert len(read_batches(segment_logs(data, TOPIC)[-1])) == 1
        records = fetch_all(broker, TOPIC)
    assert len(segment_logs(data, TOPIC)) >= 3, "the test wants several segments"
    return records


def _tear(path: Path, damage: str) -> int:
    """Damage the tail of a segment; returns the size the file must have after recovery."""
    batches = read_batches(path)
    last = batches[-1]
    raw = path.read_bytes()
    if damage in ("cut-mid-batch", "cut-only-batch"):
        with open(path, "r+b") as f:
            f.truncate(last.position + last.size // 2)
        return last.position
    if damage == "cut-mid-header":
        with open(path, "r+b") as f:
            f.truncate(last.position + 30)  # the 61-byte batch header is cut short
        return last.position
    if damage == "zeros":  # a file system may leave a zero-filled block after a crash
        with open(path, "ab") as f:
            f.write(bytes(4096))
        return len(raw)
    if damage == "garbage":
        junk = bytearray(random.Random(3).randbytes(3000))
        junk[16] = 0x7F  # where a batch has its magic byte: not a v2 batch
        with open(path, "ab") as f:
            f.write(junk)
        return len(raw)
    if damage == "next-batch-prefix":
        # the start of the next batch made it to the file, its end did not
        torn = bytearray(raw[last.position : last.end])
        torn[:8] = last.next_offset.to_bytes(8, "big")
        with open(path, "ab") as f:
            f.write(torn[: len(torn) * 2 // 3])
        return len(raw)
    raise AssertionError(damage)


@pytest.mark.parametrize("compression", ["none", "gzip"])
@pytest.mark.parametrize(
    "damage",
    ["cut-mid-batch", "cut-only-batch", "cut-mid-header", "zeros", "garbage", "next-batch-prefix"],
)
def test_torn_tail_is_cut_on_unclean_open(tmp_path: Path, damage: str, compression: str) -> None:
    data = tmp_path / "data"
    written = _write_records(data, compression, roll_last=damage == "cut-only-batch")
    active = segment_logs(data, TOPIC)[-1]
    intact = read_batches(active)
    assert len(intact) == 1 if damage == "cut-only-batch" else len(intact) >= 2
    keep_size = _tear(active, damage)
    torn_size = active.stat().st_size
    kept = [b for b in intact if b.end <= keep_size]
    keep_end = kept[-1].next_offset if kept else int(active.stem)
    survivors = written[:keep_end]
    assert [r.offset for r in survivors] == list(range(keep_end))
    if damage.startswith("cut"):
        assert len(survivors) < len(written)  # the tear took a whole batch with it
    else:
        assert survivors == written
    mark_unclean(data)

    with logway.connect(url(data)) as broker:
        assert active.stat().st_size == keep_size, "the torn tail was not cut exactly"
        part = broker.log.partition(TOPIC, 0)  # type: ignore[attr-defined]
        assert part.truncated_bytes == torn_size - keep_size
        assert broker.start_offsets(TOPIC)[0] == 0
        assert broker.end_offsets(TOPIC)[0] == keep_end
        assert fetch_all(broker, TOPIC) == survivors
        # appends continue right after the last complete batch
        meta = broker.produce(TOPIC, b"after the tear", key="k", headers={"h": "1"})
        assert meta.offset == keep_end
        metas = broker.produce_many(TOPIC, [b"one", Message(b"two", key="k2")])
        assert [m.offset for m in metas] == [keep_end + 1, keep_end + 2]
        after = fetch_all(broker, TOPIC)
        assert after[:keep_end] == survivors
        assert [(r.offset, r.value) for r in after[keep_end:]] == [
            (keep_end, b"after the tear"),
            (keep_end + 1, b"one"),
            (keep_end + 2, b"two"),
        ]

    # the repaired segment is whole again: a clean reopen and a full check agree
    assert [b.base_offset for b in read_batches(active)][-2:] == [keep_end, keep_end + 1]
    with logway.connect(url(data)) as broker:
        assert fetch_all(broker, TOPIC) == after
        assert broker.produce(TOPIC, b"again").offset == keep_end + 3
    result = run_check(data)
    assert result.returncode == 0, result.stderr
    assert "no problems found" in result.stdout
