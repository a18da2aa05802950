"""Queues: one consumer receiving batches of 100 records and acking each batch.

Embedded: the queue in this process over a log in a scratch directory. Over gRPC: the
same loop against a ``logway serve`` process through the remote backend. Each figure
is printed with the reference measured in the same run: reading the same records with
plain fetches of 100 (no acquisition, no acknowledgement, no state stored), so the
ratio is what a queue's bookkeeping costs on this machine.

    python bench/queues.py            # 100,000 records embedded, 50,000 over gRPC
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import logway
from common import scratch_dir
from serving import ServerProcess

BATCH = 100
TARGETS = {"embedded": 50_000, "grpc": 20_000}  # records/s


def fill(broker: Any, topic: str, count: int) -> None:
    broker.create_topic(topic, partitions=1)
    values = [b"x" * 100] * 1000
    for _ in range(count // 1000):
        broker.produce_many(topic, values)


def queue_rate(broker: Any, topic: str, count: int) -> float:
    queue = broker.queue(topic, "bench", start="earliest")
    got = 0
    start = time.perf_counter()
    while got < count:
        batch = queue.receive(max_records=BATCH, timeout=1.0)
        if not batch:
            raise RuntimeError(f"the queue ran dry after {got} of {count} records")
        queue.ack(batch)
        got += len(batch)
    return got / (time.perf_counter() - start)


def fetch_rate(broker: Any, topic: str, count: int) -> float:
    offset = 0
    start = time.perf_counter()
    while offset < count:
        records = broker.fetch(topic, 0, offset, max_records=BATCH)
        offset = records[-1].offset + 1
    return count / (time.perf_counter() - start)


def report(name: str, broker: Any, count: int) -> None:
    fill(broker, "work", count)
    reference = fetch_rate(broker, "work", count)
    rate = queue_rate(broker, "work", count)
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
    args = parser.parse_args()
    with scratch_dir("queues") as path:
        with logway.connect(f"file:{path}/embedded", share=False) as broker:
            report("embedded", broker, args.records)
        server = ServerProcess(f"{path}/server")
        try:
            with logway.connect(server.url) as broker:
                report("grpc", broker, args.grpc_records)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
