"""``logway serve`` under load: gRPC throughput, and live fan-out to many subscribers.

Throughput: a client in this process produces batches of 1,000 x 100-byte records to a
server process over gRPC, then subscribes from the beginning and reads them all back;
the same workload against the embedded backend in this process is the reference.

Fan-out: gRPC and SSE subscribers (two client processes, ``fanout_clients.py``) follow
one topic from offset 0 while this process produces records at a fixed rate; every
subscriber must get every record in order. Latency runs from the moment a record is
due to be produced (an open loop: records that fall due while a produce call is under
way go together in the next call) to its arrival at a subscriber, over every
(subscriber, record) pair. Server memory growth is its resident size at its peak
during the run minus before any subscriber connected, per subscriber.
"""

from __future__ import annotations

import array
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

import logway
from common import BENCH_DIR, Throughput, make_values, stop_process

READY = re.compile(r"grpc on (\S+):(\d+) .*http on http://(\S+):(\d+)/")
KAFKA_READY = re.compile(r"kafka on (\S+):(\d+)")
BATCH = 1_000
TOPIC = "fanout"
PORTS = ("--grpc-port", "0", "--http-port", "0", "--kafka-port", "auto")


class ServerProcess:
    """A ``logway serve`` on free ports over a directory of its own."""

    def __init__(self, data: str, *extra: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "logway.cli.main", "serve", "--data", data, *PORTS, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.output: list[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            match = READY.search(line)
            if match:
                self.host, self.grpc_port = match.group(1), int(match.group(2))
                self.http_port = int(match.group(4))
                kafka = KAFKA_READY.search(line)
                self.servers = f"{kafka.group(1)}:{kafka.group(2)}" if kafka else ""
                break
        else:
            raise RuntimeError("logway serve did not start:\n" + "".join(self.output))
        # keep draining its output so that its logging never blocks it
        threading.Thread(target=self._drain, args=(self.process.stdout,), daemon=True).start()

    def _drain(self, stream: IO[str]) -> None:
        for line in stream:
            self.output.append(line)

    @property
    def url(self) -> str:
        return f"logway://{self.host}:{self.grpc_port}"

    def rss(self) -> int:
        """Resident memory in bytes."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        stop_process(self.process)


# --- throughput ------------------------------------------------------------------------


@dataclass
class ServingThroughput:
    produce: Throughput
    read: Throughput
    embedded_produce: Throughput
    embedded_read: Throughput


def _produce_and_read(
    broker: logway.Broker, values: list[bytes], batches: int
) -> tuple[float, float]:
    broker.create_topic("throughput", 1)
    started = time.perf_counter()
    for _ in range(batches):
        broker.produce_many("throughput", values)
    produce_s = time.perf_counter() - started
    total = batches * len(values)
    started = time.perf_counter()
    got = 0
    with broker.consumer("throughput", start="earliest") as consumer:
        while got < total:
            records = consumer.poll(timeout=30, max_records=10_000)
            if not records:
                raise RuntimeError(f"subscribe-read stalled after {got} of {total} records")
            got += len(records)
    read_s = time.perf_counter() - started
    broker.delete_topic("throughput")
    return produce_s, read_s


def serving_throughput(root: str, records: int, reps: int) -> ServingThroughput:
    values = make_values(100, BATCH)
    batches = max(1, records // BATCH)
    n = batches * BATCH
    runs: dict[str, list[float]] = {}
    for _ in range(reps):
        server = ServerProcess(tempfile.mkdtemp(dir=root))
        try:
            with logway.connect(server.url) as remote:
                produce_s, read_s = _produce_and_read(remote, values, batches)
        finally:
            server.stop()
        runs.setdefault("produce", []).append(produce_s)
        runs.setdefault("read", []).append(read_s)
        with logway.connect(f"file:{tempfile.mkdtemp(dir=root)}") as embedded:
            produce_s, read_s = _produce_and_read(embedded, values, batches)
        runs.setdefault("embedded_produce", []).append(produce_s)
        runs.setdefault("embedded_read", []).append(read_s)
    return ServingThroughput(**{k: Throughput(n, n * 100, t) for k, t in runs.items()})


# --- fan-out ---------------------------------------------------------------------------


@dataclass
class Fanout:
    grpc_subscribers: int
    sse_subscribers: int
    records: int
    rate: float
    complete: int = 0
    errors: list[str] = field(default_factory=list)
    histogram: dict[int, int] = field(default_factory=dict)
    rss_before: int = 0
    rss_peak: int = 0
    produce_seconds: float = 0.0
    server_cpu_s: float = 0.0
    clients_cpu_s: float = 0.0
    messages: int = 0
    shutdown_s: float | None = None  # SIGTERM to exit, every subscriber still connected

    def percentile(self, pct: float) -> float | None:
        """Latency in ms at ``pct`` over every (subscriber, record) pair."""
        total = sum(self.histogram.values())
        if not total:
            return None
        need, seen = total * pct / 100, 0
        for b in sorted(self.histogram):
            seen += self.histogram[b]
            if seen >= need:
                return (b + 1) * 0.1
        return None

    @property
    def bytes_per_subscriber(self) -> float:
        return (self.rss_peak - self.rss_before) / (self.grpc_subscribers + self.sse_subscribers)

    def to_json(self) -> dict[str, Any]:
        return {
            "grpc_subscribers": self.grpc_subscribers,
            "sse_subscribers": self.sse_subscribers,
            "records": self.records,
            "rate_per_s": self.rate,
            "complete_subscribers": self.complete,
            "errors": self.errors,
            "latency_ms": {f"p{p}": self.percentile(p) for p in (50, 90, 99, 99.9, 100)},
            "server_rss_before": self.rss_before,
            "server_rss_peak": self.rss_peak,
            "bytes_per_subscriber": self.bytes_per_subscriber,
            "produce_seconds": self.produce_seconds,
            "server_cpu_s": self.server_cpu_s,
            "clients_cpu_s": self.clients_cpu_s,
            "messages": self.messages,
            "shutdown_seconds": self.shutdown_s,
        }


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _clients(
    kind: str, host: str, port: int, count: int, connections: int
) -> subprocess.Popen[str]:
    script = os.path.join(BENCH_DIR, "fanout_clients.py")
    args = [kind, host, str(port), TOPIC, str(count), str(connections)]
    return subprocess.Popen(
        [sys.executable, script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def fanout(root: str, grpc_subs: int, sse_subs: int, records: int, rate: float) -> Fanout:
    result = Fanout(grpc_subs, sse_subs, records, rate)
    server = ServerProcess(tempfile.mkdtemp(dir=root))
    clients: list[subprocess.Popen[str]] = []
    try:
        with logway.connect(server.url) as broker:
            broker.create_topic(TOPIC, 1)
            broker.produce(TOPIC, b"warm-up")  # offset 0: every subscriber's first record
            result.rss_before = server.rss()
            if grpc_subs:
                clients.append(_clients("grpc", server.host, server.grpc_port, grpc_subs, 10))
            if sse_subs:
                clients.append(_clients("sse", server.host, server.http_port, sse_subs, sse_subs))
            for c in clients:
                assert c.stdout is not None
                line = c.stdout.readline().strip()
                if line != "ready":
                    raise RuntimeError(f"fan-out clients: {line or 'exited'}")
            value = make_values(100, 1)[0]
            sent = array.array("d", [0.0])
            peak = server.rss()
            cpu = [cpu_seconds(p.pid) for p in (server.process, *clients)]
            started = time.monotonic()
            while len(sent) <= records:
                # open loop: every record has a due time, and latency counts from it; what
                # fell due while the previous call ran goes in the next call, as a batch
                now = time.monotonic()
                due = min(records + 1, int((now - started) * rate) + 1)
                if due <= len(sent):
                    time.sleep(started + len(sent) / rate - now)
                    continue
                first = len(sent)
                produced = broker.produce_many(TOPIC, [value] * (due - first))
                if produced[0].offset != first:
                    raise RuntimeError(f"record {first} went to offset {produced[0].offset}")
                sent.extend(started + i / rate for i in range(first, due))
                if first // 500 != (due - 1) // 500:
                    peak = max(peak, server.rss())
            result.produce_seconds = time.monotonic() - started
            used = [
                cpu_seconds(p.pid) - c for p, c in zip((server.process, *clients), cpu, strict=True)
            ]
            result.server_cpu_s, result.clients_cpu_s = used[0], sum(used[1:])
        path = os.path.join(root, "sent.bin")
        with open(path, "wb") as f:
            sent.tofile(f)
        for c in clients:
            assert c.stdin is not None
            c.stdin.write(f"done {records} {path}\n")
            c.stdin.flush()
        for c in clients:
            assert c.stdout is not None
            summary = json.loads(c.stdout.readline())
            result.complete += summary["complete"]
            result.errors += summary["errors"]
            result.messages += summary["messages"]
            for b, n in summary["histogram"].items():
                result.histogram[int(b)] = result.histogram.get(int(b), 0) + n
        result.rss_peak = max(peak, server.rss())
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        if server.process.wait(60) == 0:
            result.shutdown_s = time.monotonic() - started
        else:
            result.errors.append(f"the server exited {server.process.returncode} on SIGTERM")
    finally:
        for c in clients:
            c.kill()
            c.wait()
        server.stop()
    return result
