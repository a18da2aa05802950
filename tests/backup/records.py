"""What the backup tests share: a topic's worth of records with every kind of content,
and a comparison of two topics record by record."""

from __future__ import annotations

import time

import logway
from logway import Message, Record

# timestamps an hour old: within every topic's time-based retention (7 days by default)
RECENT = int(time.time() * 1000) - 3_600_000


def produce(broker: logway.Broker, topic: str, n: int, start: int = 0) -> None:
    """Records with every kind of content, by key over the partitions, in batches."""
    count = broker.describe_topic(topic).partitions
    for chunk in range(start, start + n, 250):
        broker.produce_many(
            topic,
            [
                Message(
                    None if i % 11 == 0 else f"value {i} ".encode() * (i % 7 + 1),
                    key=None if i % 5 == 0 else f"key-{i % 13}",
                    headers=[("n", str(i).encode()), ("empty", None), ("n", b"again")][: i % 4],
                    partition=i % count if i % 5 == 0 else None,
                    timestamp=RECENT + (i * 7_919) % 100_000,
                )
                for i in range(chunk, min(chunk + 250, start + n))
            ],
        )


def all_records(broker: logway.Broker, topic: str, partition: int) -> list[Record]:
    out: list[Record] = []
    offset = broker.start_offsets(topic)[partition]
    while True:
        got = broker.fetch(topic, partition, offset, max_records=5000, max_bytes=1 << 24)
        if not got:
            return out
        out.extend(got)
        offset = got[-1].offset + 1


def assert_same(
    broker: logway.Broker, a: str, b: str, b_broker: logway.Broker | None = None
) -> None:
    """Topic ``b`` (on ``b_broker``, else the same broker) holds what ``a`` holds: the
    partitions, start and end offsets, and each record's offset and contents."""
    other = b_broker or broker
    info_a, info_b = broker.describe_topic(a), other.describe_topic(b)
    assert info_b.partitions == info_a.partitions
    assert other.start_offsets(b) == broker.start_offsets(a)
    assert other.end_offsets(b) == broker.end_offsets(a)
    for p in range(info_a.partitions):
        want = [
            (r.offset, r.timestamp, r.key, r.value, r.headers) for r in all_records(broker, a, p)
        ]
        got = [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in all_records(other, b, p)]
        assert got == want, f"partition {p}"
