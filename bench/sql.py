"""Continuous SQL throughput: a windowed query read from a topic, through ``SqlRunner``.

1,000,000 records of 10,000 keys (JSON values ``{"user", "ms"}``, the record timestamp as
event time over about ten minutes, slightly out of order) are produced to an embedded
topic (not timed); the query ``SELECT user, window_start, window_end, count(*), avg(ms)
FROM TUMBLE(events, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE) GROUP BY …`` then reads
them all and produces every window's rows to a topic, as ``logway run`` does. A last
record an hour later closes every window. Printed: records/s (target >= 300,000).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import logway
from logway.broker import ensure_topic
from logway.records import Message, TopicPartition
from logway.windows.sqlrun import BATCH, sql_spec

from common import scratch_dir

RECORDS = 1_000_000
KEYS = 10_000
QUERY = (
    "INSERT INTO per_minute SELECT user, window_start, window_end, count(*) AS n, "
    "avg(ms) AS avg FROM TUMBLE(events, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE) "
    "GROUP BY user, window_start, window_end"
)


@dataclass(frozen=True)
class SqlFigures:
    records_per_s: float
    results: int

    def to_json(self) -> dict[str, object]:
        return {"records_per_s": round(self.records_per_s), "results": self.results}


def _produce(broker: logway.Broker, count: int) -> None:
    rng = random.Random(7)
    names = [f"user-{i}" for i in range(KEYS)]
    base = (int(time.time() * 1000) // 3_600_000 - 3) * 3_600_000
    step = 600_000 / count
    broker.create_topic("events", partitions=1)
    chunk: list[Message] = []
    for i in range(count):
        ts = base + int(i * step) + rng.randrange(2_000)
        value = b'{"user": "%s", "ms": %.3f}' % (names[rng.randrange(KEYS)].encode(), rng.random() * 100)
        chunk.append(Message(value, None, (), None, ts))
        if len(chunk) == 10_000:
            broker.produce_many("events", chunk)
            chunk = []
    chunk.append(Message(b'{"user": "end", "ms": 0}', None, (), None, base + 3_600_000))
    broker.produce_many("events", chunk)


def sql_seconds(broker: logway.Broker, count: int) -> tuple[float, int]:
    """Seconds for the query to read ``count`` + 1 records and produce every window."""
    spec = sql_spec(QUERY, name=f"bench-{time.monotonic_ns()}", idle="1h", checkpoint="1h")
    for topic in (spec.to, spec.late_topic, spec.error_topic, "__logway_windows"):
        ensure_topic(broker, topic)
    runner = spec.make_runner(broker, "bench")
    start = time.perf_counter()
    offsets = runner.open()
    with broker.consumer("events", partitions=[TopicPartition("events", 0)]) as consumer:
        consumer.seek(TopicPartition("events", 0), offsets[0])
        while runner.stats["records_in"] < count + 1:
            runner.step(consumer.poll(timeout=1.0, max_records=BATCH))
    runner.checkpoint()
    seconds = time.perf_counter() - start
    assert len(runner.pending) == 1, "every window but the last record's has closed"
    assert runner.stats["errors"] == runner.stats["late"] == 0, runner.stats
    return seconds, runner.stats["results"]


def measure_sql(reps: int, count: int = RECORDS) -> SqlFigures:
    with scratch_dir("sql") as path, logway.connect(f"file:{path}/data") as broker:
        _produce(broker, count)
        best, results = min(sql_seconds(broker, count) for _ in range(reps))
    return SqlFigures((count + 1) / best, results)


if __name__ == "__main__":
    print(measure_sql(2).to_json())
