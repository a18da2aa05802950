"""``logway serve``'s Kafka port against tansu, with confluent-kafka used directly.

Both brokers run in the same section, one after the other: logway serve on a
scratch data directory (topics at their default fsync=always, so acks=all means
on disk) and tansu in memory. On each:

- produce: a ``Producer`` with acks=all and librdkafka's default batching sends
  ``records`` 100-byte values to a 1-partition topic, timed to the last delivery;
- consume: a ``Consumer`` reads them all from the start (``kafka._bare_consume``:
  each message's place, time, key, value and headers taken);
- latency (first, on the fresh server: a steady light load, not the aftermath of
  the bursts below, whose 100 MB the kernel is still writing back): one record every
  200 us (5,000 records/s) with acks=all and ``linger.ms=0``, each timed from
  ``produce()`` to its delivery report (the client sleeps between records, leaving
  the CPU to the broker);
- idle connections (logway only): the server's resident memory before and after
  1,000 clients connect and finish an ApiVersions exchange, per connection.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass

from confluent_kafka import Producer

from common import Throughput, make_values
from kafka import READ_TIMEOUT_S, Tansu, _bare_consume
from logway.server.kafka import wire
from serving import ServerProcess

LATENCY_RATE = 5_000  # records/s
LATENCY_SAMPLES = 5_000
IDLE_CONNECTIONS = 1_000


class LogwayKafkaPort:
    """``logway serve`` with its Kafka port on a free port: a broker like ``Tansu``."""

    def __init__(self, root: str, name: str = "kafka-port"):
        self.server = ServerProcess(os.path.join(root, name))
        self.servers = self.server.servers
        self.url = self.server.url

    def rss(self) -> int:
        return self.server.rss()

    def stop(self) -> None:
        self.server.stop()


@dataclass
class KafkaPortFigures:
    produce: Throughput
    tansu_produce: Throughput
    consume: Throughput
    tansu_consume: Throughput
    latencies_ms: list[float]
    idle_bytes_per_connection: float

    def latency_ms(self, pct: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]

    def to_json(self) -> dict[str, object]:
        return {
            "logway_produce": self.produce.to_json(),
            "tansu_produce": self.tansu_produce.to_json(),
            "logway_consume": self.consume.to_json(),
            "tansu_consume": self.tansu_consume.to_json(),
            "latency_p50_ms": self.latency_ms(50),
            "latency_p99_ms": self.latency_ms(99),
            "idle_bytes_per_connection": self.idle_bytes_per_connection,
        }


def _create(servers: str, topic: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": servers})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(READ_TIMEOUT_S)


def _produce_seconds(servers: str, topic: str, values: list[bytes], total: int) -> float:
    producer = Producer({"bootstrap.servers": servers, "acks": "all"})
    failed: list[object] = []

    def report(err: object, _msg: object) -> None:
        if err is not None:
            failed.append(err)

    started = time.perf_counter()
    n = len(values)
    for i in range(total):
        while True:
            try:
                producer.produce(topic, values[i % n], on_delivery=report)
                break
            except BufferError:  # librdkafka's queue is full: let deliveries drain it
                producer.poll(0.01)
    if producer.flush(READ_TIMEOUT_S * 4) or failed:
        raise RuntimeError(f"the producer did not deliver everything: {failed[:3]}")
    return time.perf_counter() - started


def _latencies(servers: str, topic: str) -> list[float]:
    producer = Producer({"bootstrap.servers": servers, "acks": "all", "linger.ms": 0})
    out: list[float] = []
    value = b"x" * 100
    producer.produce(topic, value)  # connected and warm before timing
    producer.flush(READ_TIMEOUT_S)
    interval = 1 / LATENCY_RATE
    start = time.perf_counter()
    for i in range(LATENCY_SAMPLES):
        due = start + i * interval
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)  # not a busy loop: the server and librdkafka need the CPU
        sent = time.perf_counter()

        def report(err: object, _msg: object, sent: float = sent) -> None:
            if err is None:
                out.append((time.perf_counter() - sent) * 1000)

        producer.produce(topic, value, on_delivery=report)
        producer.poll(0)
    producer.flush(READ_TIMEOUT_S)
    if len(out) != LATENCY_SAMPLES:
        raise RuntimeError(f"{LATENCY_SAMPLES - len(out)} latency samples were not delivered")
    return out


def _idle_bytes(port: LogwayKafkaPort) -> float:
    host, text = port.servers.rsplit(":", 1)
    frame_body = struct.pack(">hhih", 18, 0, 1, 4) + b"idle"
    request = struct.pack(">i", len(frame_body)) + frame_body
    before = port.rss()
    sockets = []
    try:
        for _ in range(IDLE_CONNECTIONS):
            s = socket.create_connection((host, int(text)), timeout=READ_TIMEOUT_S)
            s.sendall(request)
            sockets.append(s)
        for s in sockets:  # each answered: the server has set the connection up
            size = struct.unpack(">i", _recv(s, 4))[0]
            _recv(s, size)
        time.sleep(0.5)  # let the allocator settle before reading RSS
        after = port.rss()
    finally:
        for s in sockets:
            s.close()
    return max(0.0, (after - before) / IDLE_CONNECTIONS)


def _recv(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise RuntimeError("the server closed an idle connection")
        out += chunk
    return out


def measure_kafka_port(root: str, records: int, reps: int) -> KafkaPortFigures:
    values = make_values(100, 1_000)
    total = max(10_000, records)
    runs: dict[str, list[float]] = {}
    assert wire.API_VERSIONS == 18
    for name, start in (("logway", LogwayKafkaPort), ("tansu", Tansu)):
        broker = start(root)
        try:
            if isinstance(broker, LogwayKafkaPort):  # steady light load, before the bursts
                _create(broker.servers, "latency")
                latencies = _latencies(broker.servers, "latency")
                idle = _idle_bytes(broker)
            for rep in range(reps):
                topic = f"port-{rep}"
                _create(broker.servers, topic)
                runs.setdefault(f"{name}_produce", []).append(
                    _produce_seconds(broker.servers, topic, values, total)
                )
                runs.setdefault(f"{name}_consume", []).append(
                    _bare_consume(broker.servers, topic, 1, total)
                )
        finally:
            broker.stop()

    def throughput(name: str) -> Throughput:
        return Throughput(total, total * 100, runs[name])

    return KafkaPortFigures(
        produce=throughput("logway_produce"),
        tansu_produce=throughput("tansu_produce"),
        consume=throughput("logway_consume"),
        tansu_consume=throughput("tansu_consume"),
        latencies_ms=latencies,
        idle_bytes_per_connection=idle,
    )
