"""Functions on the embedded backend: a no-op function against a hand-written
consume-and-commit loop over the same records, the filter matcher on decoded JSON,
and the time from a produce call to the start of the handler at light load.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
from dataclasses import dataclass

import logway
from common import Throughput, make_values, percentile
from logway.functions.patterns import compile_pattern
from logway.functions.runner import run_functions

BATCH = 1_000
TOPIC = "functions"
PATTERN = {
    "value": {
        "kind": ["order"],
        "total": [{"numeric": [">", 10, "<=", 500]}],
        "customer": {"id": [{"prefix": "c-1"}]},
        "region": [{"anything-but": ["test"]}],
        "tags": [{"exists": True}],
    }
}


@dataclass
class FunctionFigures:
    noop: Throughput
    loop: Throughput
    matcher_records: int
    matcher_seconds: float
    matched: int
    latencies: list[float]  # seconds, produce call to handler start

    @property
    def matcher_per_s(self) -> float:
        return self.matcher_records / self.matcher_seconds

    def latency_ms(self, pct: float) -> float:
        return percentile(self.latencies, pct) * 1000

    def to_json(self) -> dict[str, object]:
        return {
            "noop_function": self.noop.to_json(),
            "consume_commit_loop": self.loop.to_json(),
            "matcher_records_per_s": self.matcher_per_s,
            "matcher_matched": self.matched,
            "latency_p50_ms": self.latency_ms(50),
            "latency_p99_ms": self.latency_ms(99),
            "latency_samples": len(self.latencies),
        }


def _noop_seconds(broker: logway.Broker, app_name: str, total: int) -> float:
    """From start to the last batch committed and the runner stopped."""
    app = logway.App(app_name)
    last = threading.Event()

    @app.function(TOPIC, batch_size=BATCH, starting_position="earliest")
    def noop(batch: logway.Batch) -> None:
        if batch[-1].offset + 1 >= total:
            last.set()

    async def run() -> float:
        stopping = asyncio.Event()
        started = time.perf_counter()
        task = asyncio.create_task(run_functions(broker, app.name, app.functions, stopping))
        await asyncio.to_thread(last.wait)
        stopping.set()
        await task
        elapsed = time.perf_counter() - started
        part = logway.TopicPartition(TOPIC, 0)
        if broker.committed(f"{app_name}.noop", TOPIC).get(part) != total:
            raise RuntimeError("the no-op function stopped without committing every record")
        return elapsed

    return asyncio.run(run())


def _loop_seconds(broker: logway.Broker, group: str, total: int) -> float:
    started = time.perf_counter()
    done = 0
    with broker.consumer(TOPIC, group=group, start="earliest") as consumer:
        while done < total:
            records = consumer.poll(timeout=5, max_records=BATCH)
            if not records:
                raise RuntimeError(f"the loop stalled after {done} records")
            consumer.commit()
            done += len(records)
    return time.perf_counter() - started


def _events(count: int) -> list[dict[str, object]]:
    rng = random.Random(7)
    events = []
    for i in range(count):
        value = {
            "kind": rng.choice(["order", "refund", "order"]),
            "total": rng.randint(0, 1000),
            "customer": {"id": f"c-{rng.randint(0, 30)}"},
            "region": rng.choice(["eu", "us", "test"]),
            "note": "x" * 40,
        }
        if i % 3:
            value["tags"] = ["a", "b"]
        events.append({"topic": TOPIC, "partition": 0, "offset": i, "value": value})
    return events


def _latencies(broker: logway.Broker, samples: int) -> list[float]:
    broker.create_topic("latency-fn")
    app = logway.App("latency")
    arrivals: dict[int, float] = {}

    @app.function("latency-fn")
    async def note(batch: logway.Batch) -> None:
        now = time.perf_counter()
        for r in batch:
            arrivals[r.offset] = now

    sent: dict[int, float] = {}

    async def run() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(run_functions(broker, app.name, app.functions, stopping))
        while not broker.committed("latency.note", "latency-fn"):  # started, at "latest"
            await asyncio.sleep(0.01)
        for _ in range(samples):
            at = time.perf_counter()
            sent[broker.produce("latency-fn", b"ping").offset] = at
            while len(arrivals) < len(sent):
                await asyncio.sleep(0.0005)
            await asyncio.sleep(0.005)  # light load: one record at a time, 5 ms apart
        stopping.set()
        await task

    asyncio.run(run())
    return [arrivals[o] - sent[o] for o in sent]


def measure_functions(root: str, records: int, reps: int, samples: int) -> FunctionFigures:
    values = make_values(100, BATCH)
    total = max(BATCH, records // BATCH * BATCH)
    path = os.path.join(root, "functions")
    noop_runs, loop_runs = [], []
    with logway.connect(f"file:{path}") as broker:
        broker.create_topic(TOPIC)
        for _ in range(total // BATCH):
            broker.produce_many(TOPIC, values)
        for rep in range(reps):  # interleaved, each over the same records from the start
            noop_runs.append(_noop_seconds(broker, f"noop{rep}", total))
            loop_runs.append(_loop_seconds(broker, f"loop{rep}", total))
        latencies = _latencies(broker, samples)
    events = _events(100_000)
    pattern = compile_pattern(json.dumps(PATTERN))
    matches = pattern.matches
    started = time.perf_counter()
    matched = sum(1 for e in events if matches(e))
    matcher_s = time.perf_counter() - started
    return FunctionFigures(
        Throughput(total, total * 100, noop_runs),
        Throughput(total, total * 100, loop_runs),
        len(events),
        matcher_s,
        matched,
        latencies,
    )
