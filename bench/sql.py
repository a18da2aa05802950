"""Continuous SQL throughput: the windows of ``windows.py`` as a query read from a topic.

The same records as the window read from a topic (``windows.make_records``: 1,000,000
JSON records of 10,000 keys over ten minutes, the event time as record timestamp) are
produced to a topic (not timed); ``SqlRunner`` then runs

    INSERT INTO per_minute SELECT user, window_start, window_end, count(*) AS n,
    avg(ms) AS avg FROM TUMBLE(clicks, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE)
    GROUP BY user, window_start, window_end

timed from its start until it has read every record and produced every window's rows
to its output topic, as ``logway run`` does (``idle=1ms``, so the last minute closes as
soon as the stream stops). Its results are checked against the dict loop's.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import logway
from common import Throughput
from logway.broker import ensure_topic
from logway.records import TopicPartition
from logway.windows.sqlrun import BATCH, sql_spec
from windows import TIMEOUT_S, TOPIC, Results, _loop, _produce, compare, make_records

QUERY = (
    "INSERT INTO {out} SELECT user, window_start, window_end, count(*) AS n, "
    f"avg(ms) AS avg FROM TUMBLE({TOPIC}, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE) "
    "GROUP BY user, window_start, window_end"
)


@dataclass(frozen=True)
class SqlFigures:
    """The query over the topic, and whether its results are the dict loop's."""

    query: Throughput
    windows: int
    mismatch: str | None

    def to_json(self) -> dict[str, object]:
        return {"query": self.query.to_json(), "windows": self.windows, "mismatch": self.mismatch}


def _query(broker: logway.Broker, rep: int, records: int, windows: int) -> tuple[float, Results]:
    out = f"per-minute-{rep}"
    spec = sql_spec(QUERY.format(out=out), name=out, idle="1ms", checkpoint="1h")
    runner = spec.make_runner(broker, "bench")
    ensure_topic(broker, out)
    started = time.perf_counter()
    offsets = runner.open()
    with broker.consumer(TOPIC, partitions=[TopicPartition(TOPIC, 0)]) as consumer:
        consumer.seek(TopicPartition(TOPIC, 0), offsets[0])
        deadline = time.monotonic() + TIMEOUT_S
        while runner.stats["results"] < windows:
            runner.step(consumer.poll(timeout=0.001, max_records=BATCH))
            assert time.monotonic() < deadline, f"{runner.stats} after {TIMEOUT_S:g}s"
    elapsed = time.perf_counter() - started
    assert runner.stats["records_in"] == records, runner.stats
    got: Results = {}
    with broker.consumer(out, start="earliest", idle_timeout=1.0) as results:
        for record in results:
            row = json.loads(record.value or b"")
            got[(row["user"], row["window_start"])] = (row["n"], row["avg"])
    return elapsed, got


def measure_sql(root: str, records: int, reps: int = 3) -> SqlFigures:
    """The query over one topic, best of ``reps``."""
    rows = make_records(records)
    runs = []
    mismatch = None
    with logway.connect(f"file:{os.path.join(root, 'sql')}") as broker:
        broker.create_topic(TOPIC)
        nbytes = _produce(broker, rows)
        del rows
        _, want = _loop(broker, records)
        for rep in range(reps):
            elapsed, got = _query(broker, rep, records, len(want))
            runs.append(elapsed)
            mismatch = mismatch or compare("the query", got, want, "the dict loop")
    return SqlFigures(Throughput(records, nbytes, runs), len(want), mismatch)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(__file__))) as tmp:
        print(json.dumps(measure_sql(tmp, 1_000_000, 2).to_json(), indent=1))
