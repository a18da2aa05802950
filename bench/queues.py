"""Queues: one consumer receiving batches of 100 records and acking each batch.

Embedded: the queue in this process over a log in a scratch directory. Over gRPC: the
same loop against a ``logway serve`` process through the remote backend. Each figure
is printed with the reference measured in the same run: reading the same records with
plain fetches of 100 (no acquisition, no acknowledgement, no state stored), so the
ratio is what a queue's bookkeeping costs on this machine. With repetitions, each one
is a fresh queue group over the same topic, and the figures are the best of them.

    python bench/queues.py            # 100,000 records embedded, 50,000 over gRPC
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from typing import Any

import logway
from common import Throughput, scratch_dir
from serving import ServerProcess

BATCH = 100
RECORD_BYTES = 100
TOPIC = "work"
TARGETS = {"embedded": 50_000, "grpc": 20_000}  # records/s


@dataclass(frozen=True)
class QueueFigures:
    """receive(100) + ack of every record by one consumer, and plain fetches of 100 of
    the same records, embedded and over gRPC."""

    embedded: Throughput
    embedded_fetch: Throughput
    grpc: Throughput
    grpc_fetch: Throughput

    def to_json(self) -> dict[str, object]:
        return {
            "batch": BATCH,
            "embedded_receive_ack": self.embedded.to_json(),
            "embedded_fetch": self.embedded_fetch.to_json(),
            "grpc_receive_ack": self.grpc.to_json(),
            "grpc_fetch": self.grpc_fetch.to_json(),
        }


def fill(broker: Any, topic: str, count: int) -> None:
    broker.create_topic(topic, partitions=1)
    value = b"x" * RECORD_BYTES
    for start in range(0, count, 1000):
        broker.produce_many(topic, [value] * min(1000, count - start))


def queue_seconds(broker: Any, topic: str, count: int, group: str = "bench") -> float:
    """Seconds for one consumer of a new queue ``group`` to receive and ack ``count``
    records, ``BATCH`` at a time."""
    queue = broker.queue(topic, group, start="earliest")
    got = 0
    start = time.perf_counter()
    while got < count:
        batch = queue.receive(max_records=BATCH, timeout=1.0)
        if not batch:
            raise RuntimeError(f"the queue ran dry after {got} of {count} records")
        queue.ack(batch)
        got += len(batch)
    seconds = time.perf_counter() - start
    queue.close()
    return seconds


def fetch_seconds(broker: Any, topic: str, count: int) -> float:
    """Seconds to read ``count`` records with plain fetches of ``BATCH``."""
    offset = 0
    start = time.perf_counter()
    while offset < count:
        records = broker.fetch(topic, 0, offset, max_records=BATCH)
        offset = records[-1].offset + 1
    return time.perf_counter() - start


def _measure(broker: Any, count: int, reps: int) -> tuple[Throughput, Throughput]:
    """(receive + ack, plain fetches) over one topic of ``count`` records."""
    fill(broker, TOPIC, count)
    fetches, queues = [], []
    for rep in range(reps):
        fetches.append(fetch_seconds(broker, TOPIC, count))
        queues.append(queue_seconds(broker, TOPIC, count, f"bench-{rep}"))
    nbytes = count * RECORD_BYTES
    return Throughput(count, nbytes, queues), Throughput(count, nbytes, fetches)


def measure_queues(
    root: str, records: int = 100_000, grpc_records: int = 50_000, reps: int = 1
) -> QueueFigures:
    """The queue embedded (a log under ``root``) and over gRPC (a ``logway serve`` of
    its own), best of ``reps``."""
    with logway.connect(f"file:{os.path.join(root, 'queues-embedded')}", share=False) as broker:
        embedded, embedded_fetch = _measure(broker, records, reps)
    server = ServerProcess(os.path.join(root, "queues-server"))
    try:
        with logway.connect(server.url) as broker:
            grpc, grpc_fetch = _measure(broker, grpc_records, reps)
    finally:
        server.stop()
    return QueueFigures(embedded, embedded_fetch, grpc, grpc_fetch)


def report(name: str, rate: float, reference: float) -> None:
    target = TARGETS[name]
    verdict = "ok" if rate >= target else "BELOW TARGET"
    print(
        f"queue {name:8} receive {BATCH} + ack: {rate:>9,.0f} records/s "
        f"(target >= {target:,}: {verdict}); fetch {BATCH} at a time: {reference:>9,.0f} "
        f"records/s; ratio {rate / reference:.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--grpc-records", type=int, default=50_000)
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args()
    with scratch_dir("queues") as path:
        f = measure_queues(path, args.records, args.grpc_records, args.reps)
    report("embedded", f.embedded.records_per_s, f.embedded_fetch.records_per_s)
    report("grpc", f.grpc.records_per_s, f.grpc_fetch.records_per_s)


if __name__ == "__main__":
    main()
