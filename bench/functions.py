"""Functions on the embedded backend: a no-op function against a hand-written
consume-and-commit loop over the same records, the filter matcher on decoded JSON,
and the time from a produce call to the start of the handler at light load.

Functions on Kafka (``measure_kafka_functions``), on a tansu broker: JSON records of
100 B on a topic of 1 and of 3 partitions, read from the start by a fresh consumer
group, each value decoded with ``json.loads``, by

- a logway function (``kafka://``, the default settings, and batch_size 10, 100,
  1,000 and 10,000);
- a bare confluent-kafka loop: a ``Consumer`` subscribed in a group, with logway's
  librdkafka settings, calling ``consume(1000)``, checking each message's error and
  committing the positions after each call (asynchronously, then once at the end);
- Quix Streams (``peers.quix_read``), the same handler in ``StreamingDataFrame.update``.

Each is timed from the first record its handler gets to the last (joining the group
first is not: the broker holds a join for half the session timeout), and afterwards
must have committed every record. Every run of a repetition reads the same topic.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from confluent_kafka import Consumer, KafkaException

import logway
from common import Throughput, make_values, percentile
from kafka import Tansu
from logway.backends.kafka import CONSUMER_DEFAULTS
from logway.functions.patterns import compile_pattern
from logway.functions.runner import run_functions
from peers import quix_read

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


# --- functions on Kafka -------------------------------------------------------------

KAFKA_BATCH_SIZES = (10, 100, 1_000, 10_000)  # 100 is the default
KAFKA_PARTITIONS = (1, 3)
SESSION_MS = 2_000  # tansu holds a group join for half the session timeout


def session_options(session_ms: int) -> str:
    return f"session.timeout.ms={session_ms}&heartbeat.interval.ms={session_ms // 10}"


KAFKA_READ_TIMEOUT_S = 60.0


@dataclass
class KafkaFunctionFigures:
    functions: dict[tuple[int, int], Throughput]  # (partitions, batch_size)
    bare: dict[int, Throughput]  # per partition count
    quix: dict[int, Throughput]

    def to_json(self) -> dict[str, object]:
        return {
            "functions": {
                f"{parts}p_batch{size}": t.to_json() for (parts, size), t in self.functions.items()
            },
            "bare_loop": {f"{parts}p": t.to_json() for parts, t in self.bare.items()},
            "quix_streams": {f"{parts}p": t.to_json() for parts, t in self.quix.items()},
        }


def json_values(count: int, size: int = 100) -> list[bytes]:
    """``count`` JSON objects of ``size`` bytes each."""
    out = []
    for i in range(count):
        doc = {"id": i, "kind": "order", "total": i % 1000, "note": ""}
        doc["note"] = "x" * (size - len(json.dumps(doc)))
        out.append(json.dumps(doc).encode())
    return out


def _committed_all(broker: logway.Broker, group: str, topic: str, total: int) -> None:
    """Every record committed: the offsets add up to the records produced (tansu's end
    offsets are its last batch's base offset + 1, so they cannot say)."""
    committed = broker.committed(group, topic)
    if sum(committed.values()) != total:
        raise RuntimeError(f"{group} committed {committed}, for {total} records")


def _kafka_function_seconds(
    servers: str, topic: str, total: int, batch_size: int, name: str, session_ms: int = SESSION_MS
) -> float:
    """A function decoding every record as JSON, from its first record to its last."""
    app = logway.App(name)
    lock = threading.Lock()
    last = threading.Event()
    seen, times = [0], [0.0, 0.0]

    @app.function(topic, batch_size=batch_size, starting_position="earliest")
    def handle(batch: logway.Batch) -> None:
        if not times[0]:
            times[0] = time.perf_counter()
        for record in batch:
            json.loads(record.value)
        with lock:
            seen[0] += len(batch)
            if seen[0] >= total:
                times[1] = time.perf_counter()
                last.set()

    with logway.connect(f"kafka://{servers}?{session_options(session_ms)}") as broker:

        async def run() -> None:
            stopping = asyncio.Event()
            task = asyncio.create_task(run_functions(broker, app.name, app.functions, stopping))
            try:
                if not await asyncio.to_thread(last.wait, KAFKA_READ_TIMEOUT_S):
                    raise RuntimeError(f"the function stalled after {seen[0]} of {total}")
            finally:
                stopping.set()
                await task

        asyncio.run(run())
        if seen[0] != total:
            raise RuntimeError(f"the function handled {seen[0]} records of {total}")
        _committed_all(broker, f"{name}.handle", topic, total)
    return times[1] - times[0]


def _bare_loop_seconds(
    servers: str, topic: str, total: int, group: str, session_ms: int = SESSION_MS
) -> float:
    """A bare consume-decode-commit loop in a group, from its first record to its last."""
    consumer = Consumer(
        {
            "bootstrap.servers": servers,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": session_ms,
            "heartbeat.interval.ms": session_ms // 10,
            **CONSUMER_DEFAULTS,  # as logway's consumers
        }
    )
    loads = json.loads
    seen, first = 0, 0.0
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + KAFKA_READ_TIMEOUT_S
        while seen < total:
            messages = consumer.consume(num_messages=1000, timeout=1.0)
            if not messages:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the bare loop stalled after {seen} of {total}")
                continue
            if not first:
                first = time.perf_counter()
            for m in messages:
                if m.error() is not None:
                    raise KafkaException(m.error())
                loads(m.value())
            seen += len(messages)
            consumer.commit(asynchronous=True)
            deadline = time.monotonic() + KAFKA_READ_TIMEOUT_S
        elapsed = time.perf_counter() - first
        consumer.commit(offsets=consumer.position(consumer.assignment()), asynchronous=False)
    finally:
        consumer.close()
    return elapsed


def measure_kafka_functions(
    root: str,
    records: int,
    reps: int,
    broker: Callable[[str], Any] = Tansu,
    session_ms: int = SESSION_MS,
) -> KafkaFunctionFigures:
    """Best of ``reps`` of each; the runs of a repetition take turns in a new order. On
    a broker ``broker(root)`` starts (with ``.servers`` and ``.stop()``), its groups
    with ``session_ms`` session timeouts."""
    total = max(1_000, records // 1_000 * 1_000)
    values = json_values(1_000)
    functions: dict[tuple[int, int], list[float]] = {}
    bare: dict[int, list[float]] = {}
    quix: dict[int, list[float]] = {}
    tansu = broker(root)
    try:
        servers = tansu.servers
        with logway.connect(f"kafka://{servers}") as broker:
            for parts in KAFKA_PARTITIONS:
                topic = f"functions-{parts}p"
                broker.create_topic(topic, partitions=parts)
                for _ in range(total // len(values)):
                    broker.produce_many(topic, values)
        for rep in range(reps):
            for parts in KAFKA_PARTITIONS:
                topic = f"functions-{parts}p"
                bare_group, quix_group = f"bare-{parts}-{rep}", f"quix-{parts}-{rep}"
                steps: list[tuple[list[float], Callable[[], float]]] = [
                    (
                        bare.setdefault(parts, []),
                        partial(_bare_loop_seconds, servers, topic, total, bare_group, session_ms),
                    ),
                    (
                        quix.setdefault(parts, []),
                        partial(quix_read, servers, topic, quix_group, total, session_ms),
                    ),
                ]
                for size in KAFKA_BATCH_SIZES:
                    name = f"fn{size}-{parts}-{rep}"
                    steps.append(
                        (
                            functions.setdefault((parts, size), []),
                            partial(
                                _kafka_function_seconds,
                                servers,
                                topic,
                                total,
                                size,
                                name,
                                session_ms,
                            ),
                        )
                    )
                turn = rep % len(steps)
                for runs, step in steps[turn:] + steps[:turn]:
                    runs.append(step())
                with logway.connect(f"kafka://{servers}") as broker:
                    for group in (bare_group, quix_group):
                        _committed_all(broker, group, topic, total)
    finally:
        tansu.stop()

    def throughput(runs: list[float]) -> Throughput:
        return Throughput(total, total * 100, runs)

    return KafkaFunctionFigures(
        {key: throughput(runs) for key, runs in functions.items()},
        {parts: throughput(runs) for parts, runs in bare.items()},
        {parts: throughput(runs) for parts, runs in quix.items()},
    )
