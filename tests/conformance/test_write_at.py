"""``write_at``: appending records that keep their own offsets, and what each backend
refuses. A Kafka cluster numbers records itself, so there only a run that starts at
the end offset without holes keeps its offsets; anything else is refused, clearly."""

from __future__ import annotations

import pytest

import logway
from logway import Record
from logway.broker import read_batches, write_batches
from tests.conformance.conftest import KAFKA_BACKENDS


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.node.callspec.params["open_broker"])


def _records(topic: str, offsets: list[int], partition: int = 0) -> list[Record]:
    """Records with every kind of content: keys (and none), empty and null values,
    repeated headers and headers without a value, timestamps out of order."""
    out = []
    for i, offset in enumerate(offsets):
        key = None if i % 3 == 2 else f"key-{offset}".encode()
        value = None if i % 5 == 4 else (b"" if i % 5 == 3 else f"value-{offset}".encode() * 3)
        headers: tuple[tuple[str, bytes | None], ...] = (
            ("source", b"backup"),
            ("n", str(offset).encode()),
            ("n", None),
        )
        timestamp = 1_700_000_000_000 + (offset * 7919) % 10_000
        out.append(Record(topic, partition, offset, timestamp, key, value, headers[: i % 4]))
    return out


def _fetch_all(broker: logway.Broker, topic: str, partition: int = 0) -> list[Record]:
    start = broker.start_offsets(topic)[partition]
    end = broker.end_offsets(topic)[partition]
    out: list[Record] = []
    offset = start
    while offset < end:
        got = broker.fetch(topic, partition, offset, max_records=1000)
        if not got:
            break
        out.extend(got)
        offset = got[-1].offset + 1
    return out


def _same(a: list[Record], b: list[Record]) -> None:
    assert [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in a] == [
        (r.offset, r.timestamp, r.key, r.value, r.headers) for r in b
    ]


def test_records_keep_offsets_timestamps_and_contents(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic, partitions=2)
    records = _records(topic, list(range(40)), partition=1)
    broker.write_at(topic, 1, records[:25])
    broker.write_at(topic, 1, records[25:])
    assert broker.end_offsets(topic) == {0: 0, 1: 40}
    _same(_fetch_all(broker, topic, 1), records)
    # the partition goes on from there for producers
    assert broker.produce(topic, b"next", partition=1).offset == 40


def test_write_at_continues_what_was_produced(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    broker.produce_many(topic, [b"a", b"b", b"c"], partition=0)
    records = _records(topic, [3, 4, 5])
    broker.write_at(topic, 0, records)
    got = broker.fetch(topic, 0, 0)
    assert [r.value for r in got[:3]] == [b"a", b"b", b"c"]
    _same(got[3:], records)


def test_an_empty_partition_begins_at_the_first_offset(
    broker: logway.Broker, topic: str, backend: str
) -> None:
    broker.create_topic(topic)
    records = _records(topic, list(range(1000, 1010)))
    if backend in KAFKA_BACKENDS:
        with pytest.raises(logway.InvalidArgumentError, match="numbers records itself"):
            broker.write_at(topic, 0, records)
        assert broker.end_offsets(topic) == {0: 0}
        return
    broker.write_at(topic, 0, records)
    assert broker.start_offsets(topic) == {0: 1000}
    assert broker.end_offsets(topic) == {0: 1010}
    _same(_fetch_all(broker, topic), records)
    with pytest.raises(logway.OffsetOutOfRangeError):
        broker.fetch(topic, 0, 999)


def test_holes_in_the_offsets_are_kept(broker: logway.Broker, topic: str, backend: str) -> None:
    broker.create_topic(topic)
    offsets = [0, 1, 2, 7, 8, 20, 21, 22, 23, 500]
    records = _records(topic, offsets)
    if backend in KAFKA_BACKENDS:
        with pytest.raises(logway.InvalidArgumentError, match="jump from 2 to 7"):
            broker.write_at(topic, 0, records)
        assert broker.end_offsets(topic) == {0: 0}
        return
    broker.write_at(topic, 0, records)
    assert broker.end_offsets(topic) == {0: 501}
    _same(_fetch_all(broker, topic), records)
    # reading from inside a hole gives the next record, as Kafka does after compaction
    assert broker.fetch(topic, 0, 3, max_records=1)[0].offset == 7
    assert broker.fetch(topic, 0, 24, max_records=1)[0].offset == 500
    # a later write may leave a hole after the end too
    more = _records(topic, [600, 601])
    broker.write_at(topic, 0, more)
    assert broker.end_offsets(topic) == {0: 602}
    _same(_fetch_all(broker, topic), records + more)


def test_offsets_below_the_end_are_refused(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    broker.produce_many(topic, [b"a", b"b", b"c", b"d", b"e"], partition=0)
    with pytest.raises(logway.InvalidArgumentError, match="end offset"):
        broker.write_at(topic, 0, _records(topic, [3, 4, 5, 6]))
    assert broker.end_offsets(topic) == {0: 5}
    assert [r.value for r in broker.fetch(topic, 0, 0)] == [b"a", b"b", b"c", b"d", b"e"]


@pytest.mark.parametrize(
    "offsets",
    [[0, 1, 3, 2], [0, 1, 1, 2], [-1, 0]],
    ids=["decreasing", "repeated", "negative"],
)
def test_offsets_out_of_order_are_refused_and_nothing_is_stored(
    broker: logway.Broker, topic: str, offsets: list[int]
) -> None:
    broker.create_topic(topic)
    with pytest.raises(logway.InvalidArgumentError, match="offset"):
        broker.write_at(topic, 0, _records(topic, offsets))
    assert broker.end_offsets(topic) == {0: 0}
    assert broker.fetch(topic, 0, 0) == []


def test_bad_arguments_are_refused(broker: logway.Broker, topic: str) -> None:
    broker.create_topic(topic)
    with pytest.raises(logway.InvalidArgumentError, match="Records"):
        broker.write_at(topic, 0, [b"no offset"])  # type: ignore[list-item]
    with pytest.raises(logway.InvalidArgumentError, match="timestamp"):
        broker.write_at(topic, 0, [Record(topic, 0, 0, None, None, b"v")])  # type: ignore[arg-type]
    with pytest.raises(logway.UnknownTopicError):
        broker.write_at(topic, 3, _records(topic, [0]))
    with pytest.raises(logway.UnknownTopicError):
        broker.write_at(f"{topic}-missing", 0, _records(topic, [0]))
    assert broker.end_offsets(topic) == {0: 0}
    broker.write_at(topic, 0, [])  # nothing to write is no error
    assert broker.end_offsets(topic) == {0: 0}


def test_batches_move_a_partition_in_bulk(broker: logway.Broker, topic: str) -> None:
    """``read_batches``/``write_batches``: a partition's records as RecordBatch v2 with
    their offsets, onto another topic, which then holds the same records."""
    broker.create_topic(topic)
    broker.produce_many(topic, [logway.Message(f"v{i}", key=f"k{i % 3}") for i in range(300)])
    copy = f"{topic}-copy"
    broker.create_topic(copy)
    offset = 0
    while offset < 300:
        data = read_batches(broker, topic, 0, offset, max_bytes=2000)
        assert data
        write_batches(broker, copy, 0, data)
        offset = broker.end_offsets(copy)[0]
    assert read_batches(broker, topic, 0, 300) == b""
    _same(_fetch_all(broker, copy), _fetch_all(broker, topic))
    with pytest.raises(logway.InvalidArgumentError):
        write_batches(broker, copy, 0, b"\x00" * 70)
    assert broker.end_offsets(copy) == {0: 300}
