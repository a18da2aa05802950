"""Retention and segment rolling across restarts: what retention deleted never comes
back, the start offset only moves forward, and offsets are never reused, not even
after every segment has expired, whether the log was closed cleanly or not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import logway
from logway import Message
from tests.reliability.conftest import fetch_all, mark_unclean, read_batches, segment_logs, url

pytestmark = pytest.mark.slow

TOPIC = "t"
SEGMENT_BYTES = 4096
# in the future, so the maintenance thread's retention (by the wall clock) never
# competes with the explicit apply_retention(now=...) calls of the tests
T0 = int(dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)


def _produce(broker: logway.Broker, first: int, count: int) -> None:
    """Records ``first`` .. ``first + count - 1``, one a second from T0, in calls of 1 or 3."""
    i = first
    while i < first + count:
        n = min(1 if i % 2 else 3, first + count - i)
        metas = broker.produce_many(
            TOPIC,
            [
                Message(
                    f"record {i + j} ".encode() + b"." * 90,
                    key=f"k{i + j}",
                    headers={"i": str(i + j)},
                    timestamp=T0 + (i + j) * 1000,
                )
                for j in range(n)
            ],
        )
        assert [m.offset for m in metas] == list(range(i, i + n))
        i += n


def _reopen(data: Path, how: str) -> logway.Broker:
    if how == "unclean":
        mark_unclean(data)
    return logway.connect(url(data))


def _check_segments(data: Path, records: list[logway.Record]) -> None:
    """Each segment file is named by its first offset, the files hold the records
    from the start offset on without a gap, and sealed ones respect segment_bytes."""
    logs = segment_logs(data, TOPIC)
    expect = records[0].offset if records else None
    for i, log in enumerate(logs):
        batches = read_batches(log)
        if i < len(logs) - 1:
            assert batches and log.stat().st_size <= SEGMENT_BYTES
        if batches:
            assert batches[0].base_offset == int(log.stem), f"{log.name} is misnamed"
            for b in batches:
                assert expect is None or b.base_offset == expect
                expect = b.next_offset


def _gone(records_before: list[logway.Record], broker: logway.Broker, start: int) -> None:
    """Nothing below the start offset can be read any more."""
    for offset in {0, start // 2, start - 1}:
        with pytest.raises(logway.OffsetOutOfRangeError):
            broker.fetch(TOPIC, 0, offset)
    assert fetch_all(broker, TOPIC) == records_before[start:]


@pytest.mark.parametrize("reopen", ["clean", "unclean"])
def test_retention_by_time_is_final_across_restarts(tmp_path: Path, reopen: str) -> None:
    data = tmp_path / "data"
    with logway.connect(url(data)) as broker:
        broker.create_topic(TOPIC, segment_bytes=SEGMENT_BYTES, retention_ms=60_000)
        _produce(broker, 0, 200)
        records = fetch_all(broker, TOPIC)
        logs = segment_logs(data, TOPIC)
        cut = T0 + 100_000  # segments whose newest record is older than this expire
        expired = [log for log in logs if max(b.max_timestamp for b in read_batches(log)) < cut]
        assert 2 <= len(expired) < len(logs) - 1
        assert broker.apply_retention(now=cut + 60_000) == len(expired)
        start = broker.start_offsets(TOPIC)[0]
        assert start == int(logs[len(expired)].stem) > 0
        assert records[start - 1].timestamp < cut <= max(r.timestamp for r in records[start:])
        _gone(records, broker, start)
    for log in expired:
        for suffix in (".log", ".index", ".timeindex"):
            assert not log.with_suffix(suffix).exists()

    with _reopen(data, reopen) as broker:
        assert (broker.start_offsets(TOPIC)[0], broker.end_offsets(TOPIC)[0]) == (start, 200)
        _gone(records, broker, start)
        assert broker.apply_retention(now=cut + 60_000) == 0
        _produce(broker, 200, 100)  # appends go on after the old end; segments keep rolling
        records = records[:start] + fetch_all(broker, TOPIC)
        assert [r.offset for r in records] == list(range(300))
    _check_segments(data, records[start:])

    with _reopen(data, reopen) as broker:
        assert (broker.start_offsets(TOPIC)[0], broker.end_offsets(TOPIC)[0]) == (start, 300)
        _gone(records, broker, start)
        # a later cut moves the start forward, never back
        assert broker.apply_retention(now=T0 + 250_000 + 60_000) > 0
        later = broker.start_offsets(TOPIC)[0]
        assert start < later <= 250
        _gone(records, broker, later)
    with _reopen(data, reopen) as broker:
        assert broker.start_offsets(TOPIC)[0] == later
        _gone(records, broker, later)
    _check_segments(data, records[later:])


@pytest.mark.parametrize("reopen", ["clean", "unclean"])
def test_retention_by_size_is_final_across_restarts(tmp_path: Path, reopen: str) -> None:
    data = tmp_path / "data"
    limit = 3 * SEGMENT_BYTES
    with logway.connect(url(data)) as broker:
        broker.create_topic(
            TOPIC, segment_bytes=SEGMENT_BYTES, retention_bytes=limit, retention_ms=-1
        )
        _produce(broker, 0, 200)
        records = fetch_all(broker, TOPIC)
        broker.apply_retention()
        start = broker.start_offsets(TOPIC)[0]
        assert start > 0
        _gone(records, broker, start)

    def sizes() -> list[int]:
        return [log.stat().st_size for log in segment_logs(data, TOPIC)]

    # Kafka's rule: the oldest segment goes while the rest would still hold the limit
    assert sum(sizes()) >= limit > sum(sizes()) - sizes()[0]
    assert int(segment_logs(data, TOPIC)[0].stem) == start

    with _reopen(data, reopen) as broker:
        assert (broker.start_offsets(TOPIC)[0], broker.end_offsets(TOPIC)[0]) == (start, 200)
        _gone(records, broker, start)
        broker.apply_retention()
        assert broker.start_offsets(TOPIC)[0] == start, "nothing more was over the limit"
        _produce(broker, 200, 150)
        records = records[:start] + fetch_all(broker, TOPIC)
        assert [r.offset for r in records] == list(range(350))
        broker.apply_retention()
        later = broker.start_offsets(TOPIC)[0]
        assert later > start
    with _reopen(data, reopen) as broker:
        assert (broker.start_offsets(TOPIC)[0], broker.end_offsets(TOPIC)[0]) == (later, 350)
        _gone(records, broker, later)
    assert sum(sizes()) >= limit > sum(sizes()) - sizes()[0]
    _check_segments(data, records[later:])


@pytest.mark.parametrize("reopen", ["clean", "unclean"])
def test_offsets_are_not_reused_after_everything_expired(tmp_path: Path, reopen: str) -> None:
    data = tmp_path / "data"
    far_future = T0 + 10**9
    with logway.connect(url(data)) as broker:
        broker.create_topic(TOPIC, segment_bytes=SEGMENT_BYTES, retention_ms=1000)
        _produce(broker, 0, 50)
        records = fetch_all(broker, TOPIC)
        assert len(segment_logs(data, TOPIC)) > 1
        broker.apply_retention(now=far_future)
        assert (broker.start_offsets(TOPIC)[0], broker.end_offsets(TOPIC)[0]) == (50, 50)
        assert broker.fetch(TOPIC, 0, 50) == []
        _gone(records, broker, 50)
    # what is left: one empty segment named by the end offset
    assert [log.name for log in segment_logs(data, TOPIC)] == [f"{50:020d}.log"]
    assert segment_logs(data, TOPIC)[0].stat().st_size == 0

    with _reopen(data, reopen) as broker:
        assert (broker.start_offsets(TOPIC)[0], broker.end_offsets(TOPIC)[0]) == (50, 50)
        _gone(records, broker, 50)
        meta = broker.produce(TOPIC, b"after", key="k", timestamp=T0 + 50_000)
        assert meta.offset == 50
        # everything expires again, the new record included, in the same process
        broker.apply_retention(now=far_future)
        assert (broker.start_offsets(TOPIC)[0], broker.end_offsets(TOPIC)[0]) == (51, 51)
        assert broker.produce(TOPIC, b"next", timestamp=T0).offset == 51
        broker.apply_retention(now=far_future)
        assert (broker.start_offsets(TOPIC)[0], broker.end_offsets(TOPIC)[0]) == (52, 52)

    with _reopen(data, reopen) as broker:
        assert (broker.start_offsets(TOPIC)[0], broker.end_offsets(TOPIC)[0]) == (52, 52)
        for offset in (0, 49, 50, 51):
            with pytest.raises(logway.OffsetOutOfRangeError):
                broker.fetch(TOPIC, 0, offset)
        metas = broker.produce_many(
            TOPIC, [Message(b"a", timestamp=T0), Message(b"b", timestamp=T0)]
        )
        assert [m.offset for m in metas] == [52, 53]
        assert [(r.offset, r.value) for r in fetch_all(broker, TOPIC)] == [(52, b"a"), (53, b"b")]
