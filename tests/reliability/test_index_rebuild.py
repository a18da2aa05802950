"""Indexes are caches of the log: when ``.index`` / ``.timeindex`` files are missing or
hold garbage, opening the log rebuilds them, and lookups by offset and by time
(and retention, which reads a segment's age from its time index) stay right."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from pathlib import Path

import pytest

import logway
from logway import Message
from tests.reliability.conftest import (
    fetch_all,
    mark_unclean,
    read_batches,
    read_offset_index,
    read_time_index,
    segment_logs,
    url,
)

pytestmark = pytest.mark.slow

TOPIC = "t"
DAY_MS = 86_400_000
# in the future, so the maintenance thread's retention (by the wall clock) never applies
T0 = int(dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)


def _write(data: Path) -> list[logway.Record]:
    """Several segments with dense sparse indexes; timestamps rise, with some jitter
    (a record may be older than the one before it, as with producer timestamps)."""
    rng = random.Random(5)
    with logway.connect(url(data)) as broker:
        broker.create_topic(TOPIC, segment_bytes=4096, index_interval_bytes=256, retention_ms="1d")
        i = 0
        while i < 300:
            n = rng.choice([1, 1, 2, 5])
            broker.produce_many(
                TOPIC,
                [
                    Message(
                        f"record {i + j} ".encode() + rng.randbytes(rng.randint(10, 120)),
                        key=f"k{(i + j) % 7}",
                        headers={"i": str(i + j)},
                        timestamp=T0 + (i + j) * 10 + rng.randint(-25, 25),
                    )
                    for j in range(n)
                ],
            )
            i += n
        return fetch_all(broker, TOPIC)


def _damage(path: Path, kind: str, rng: random.Random) -> None:
    entry = 8 if path.suffix == ".index" else 12
    size = path.stat().st_size
    assert size >= entry, f"{path} should hold entries before it is damaged"
    if kind == "missing":
        path.unlink()
    elif kind == "garbage":  # not even whole entries
        path.write_bytes(rng.randbytes(size + 5))
    elif kind == "garbage-entries":  # whole entries of random values
        path.write_bytes(rng.randbytes(size))
    elif kind == "zero-filled":  # as a preallocated or zero-filled file would read
        path.write_bytes(bytes(size))
    else:
        raise AssertionError(kind)


def _first_at_or_after(records: list[logway.Record], t: int) -> int | None:
    return next((r.offset for r in records if r.timestamp >= t), None)


def _check_index_files(data: Path, records: list[logway.Record]) -> None:
    """Every segment's indexes on disk agree with its log file."""
    for log in segment_logs(data, TOPIC):
        base = int(log.stem)
        batches = {b.position: b for b in read_batches(log)}
        offsets = read_offset_index(log.with_suffix(".index"), base)
        assert offsets and offsets[0] == (base, 0), f"{log.name}: index not rebuilt"
        if log.stat().st_size > 1024:
            assert len(offsets) > 2, f"{log.name}: no entry every 256 bytes"
        for (o1, p1), (o2, p2) in itertools.pairwise(offsets):
            assert o1 < o2 and p1 < p2
        for offset, position in offsets:
            assert position in batches and batches[position].base_offset == offset
        end = max(b.next_offset for b in batches.values())
        stamps = read_time_index(log.with_suffix(".timeindex"), base)
        assert stamps, f"{log.name}: time index not rebuilt"
        for (t1, o1), (t2, o2) in itertools.pairwise(stamps):
            assert t1 <= t2 and o1 <= o2
        for t, o in stamps:
            assert base <= o <= end
            assert all(r.timestamp <= t for r in records[base:o]), f"{log.name}: entry {t, o}"
        assert stamps[-1][0] == max(r.timestamp for r in records[base:end]), (
            f"{log.name}: the time index does not end with the segment's max timestamp"
        )


@pytest.mark.parametrize("reopen", ["clean", "unclean"])
@pytest.mark.parametrize("files", ["both", "index", "timeindex"])
@pytest.mark.parametrize("kind", ["missing", "garbage", "garbage-entries", "zero-filled"])
def test_damaged_indexes_are_rebuilt(tmp_path: Path, kind: str, files: str, reopen: str) -> None:
    data = tmp_path / "data"
    records = _write(data)
    logs = segment_logs(data, TOPIC)
    assert len(logs) >= 5
    rng = random.Random(kind)
    suffixes = [".index", ".timeindex"] if files == "both" else [f".{files}"]
    for log in logs:  # sealed segments and the active one alike
        for suffix in suffixes:
            _damage(log.with_suffix(suffix), kind, rng)
    if reopen == "unclean":
        mark_unclean(data)
    # every fourth record and the records at each segment's edges, just below, at, above
    edges = {int(log.stem) for log in logs} | {int(log.stem) - 1 for log in logs[1:]}
    sample = [r for r in records if r.offset % 4 == 0 or r.offset in edges]
    probes = sorted(
        {r.timestamp + d for r in sample for d in (-1, 0, 1)}
        | {T0 - 10**6, max(r.timestamp for r in records) + 1}
    )
    expected = {t: _first_at_or_after(records, t) for t in probes}

    with logway.connect(url(data)) as broker:
        assert (broker.start_offsets(TOPIC)[0], broker.end_offsets(TOPIC)[0]) == (0, len(records))
        for rec in records:  # lookup by offset, through the offset index
            assert broker.fetch(TOPIC, 0, rec.offset, max_records=1) == [rec]
        answers = {t: (broker.offset_for_time(TOPIC, 0, t), expected[t]) for t in probes}
        wrong = {t: pair for t, pair in answers.items() if pair[0] != pair[1]}
        assert not wrong, f"offset_for_time(t): (got, expected) {dict(list(wrong.items())[:5])}"
        assert broker.produce(TOPIC, b"next", timestamp=T0 + 10**6).offset == len(records)
        records = fetch_all(broker, TOPIC)

    _check_index_files(data, records)

    # retention judges a segment's age by the max timestamp its time index gives
    first = read_batches(logs[0])
    first_max = max(r.timestamp for r in records[: first[-1].next_offset])
    with logway.connect(url(data)) as broker:
        assert broker.apply_retention(now=first_max + DAY_MS) == 0
        assert broker.start_offsets(TOPIC)[0] == 0, "retention deleted a segment too young to go"
        assert broker.apply_retention(now=first_max + DAY_MS + 1) >= 1
        assert broker.start_offsets(TOPIC)[0] == first[-1].next_offset
