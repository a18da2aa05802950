"""Shared pieces of the benchmarks: sizes, record values, scratch directories, timing.

Every benchmark writes into a scratch directory on the same disk as the repository,
so the disk reference and the systems under test see the same device.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
RESULTS_DIR = os.path.join(BENCH_DIR, "results")

BATCH = 10_000  # records per produce_many / transaction / pipeline / fetch
REPETITIONS = 3  # throughput figures are the best of this many runs


@dataclass(frozen=True)
class Sizes:
    """How much data each benchmark moves; the defaults fit `make bench` in ~3 minutes."""

    small_records: int = 2_000_000  # 100-byte records: append, read and the peers
    small_bytes: int = 100
    large_records: int = 200_000  # 1 KiB records: append against the disk's bandwidth
    large_bytes: int = 1024
    latency_samples: int = 2_000  # single-record produces (and bare writes) timed one by one
    latency_warmup: int = 100
    sqlite_records: int = 2_000_000  # 100-byte rows SQLite inserts and selects
    redis_records: int = 300_000  # fewer: redis-py moves ~50k XADDs/s, a minute for 2M
    serve_records: int = 500_000  # 100-byte records produced and read over gRPC
    fanout_grpc: int = 1_000  # live subscribers of each kind
    fanout_sse: int = 1_000
    fanout_records: int = 10_000  # at 1,000/s
    function_records: int = 1_000_000  # a no-op function and a consume+commit loop read
    function_latency_samples: int = 500
    kafka_records: int = 200_000  # 100-byte records through the Kafka backend and bare clients
    port_records: int = 1_000_000  # 100-byte records into and out of logway's Kafka port
    backup_records: int = 1_000_000  # 1 KiB records: a 1 GB topic backed up and restored
    delivery_records: int = 300_000  # 1 KiB JSON records delivered to Parquet
    window_records: int = 1_000_000  # JSON records through tumbling windows, 100 per key
    queue_records: int = 100_000  # 100-byte records received and acked by a queue consumer
    queue_grpc_records: int = 50_000  # the same over gRPC
    notify_records: int = 20_000  # JSON records sent as webhook notifications

    def scaled(self, factor: float) -> Sizes:
        """The same shape with record counts multiplied by ``factor`` (whole batches)."""

        def batches(n: int) -> int:
            return max(BATCH, round(n * factor / BATCH) * BATCH)

        def thousands(n: int) -> int:
            return max(1_000, round(n * factor / 1_000) * 1_000)

        return Sizes(
            small_records=batches(self.small_records),
            small_bytes=self.small_bytes,
            large_records=batches(self.large_records),
            large_bytes=self.large_bytes,
            latency_samples=max(50, round(self.latency_samples * factor)),
            latency_warmup=max(10, round(self.latency_warmup * factor)),
            sqlite_records=batches(self.sqlite_records),
            redis_records=batches(self.redis_records),
            serve_records=batches(self.serve_records),
            fanout_grpc=max(10, round(self.fanout_grpc * factor)),
            fanout_sse=max(10, round(self.fanout_sse * factor)),
            fanout_records=max(1_000, round(self.fanout_records * factor)),
            function_records=batches(self.function_records),
            function_latency_samples=max(50, round(self.function_latency_samples * factor)),
            kafka_records=batches(self.kafka_records),
            port_records=batches(self.port_records),
            backup_records=batches(self.backup_records),
            delivery_records=batches(self.delivery_records),
            window_records=batches(self.window_records),
            queue_records=thousands(self.queue_records),
            queue_grpc_records=thousands(self.queue_grpc_records),
            notify_records=thousands(self.notify_records),
        )


def make_values(size: int, count: int = BATCH) -> list[bytes]:
    """``count`` distinct random values of ``size`` bytes: one batch, reused for every
    batch so that building values costs nothing inside the timed loops."""
    blob = os.urandom(size * count)
    return [blob[i * size : (i + 1) * size] for i in range(count)]


def scratch_root() -> str:
    """A parent for scratch directories on the same filesystem as the repository:
    the system temporary directory when it is on that device, else bench/results."""
    repo_dev = os.stat(REPO_DIR).st_dev
    tmp = tempfile.gettempdir()
    if os.stat(tmp).st_dev == repo_dev:
        return tmp
    os.makedirs(RESULTS_DIR, exist_ok=True)
    return RESULTS_DIR


@contextmanager
def scratch_dir(prefix: str) -> Iterator[str]:
    """A fresh directory on the repository's disk, removed afterwards."""
    path = tempfile.mkdtemp(prefix=f"logway-bench-{prefix}-", dir=scratch_root())
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def fsync_dir(path: str) -> None:
    """Make a directory's entries durable (so file creation is not billed to a later run)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn()`` takes on the monotonic high-resolution clock."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def percentile(samples: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by the nearest-rank method."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


@dataclass
class Throughput:
    """Repeated timings of moving the same ``records`` (``nbytes`` bytes) end to end."""

    records: int
    nbytes: int
    runs: list[float]  # seconds, one per repetition

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def records_per_s(self) -> float:
        return self.records / self.best

    @property
    def bytes_per_s(self) -> float:
        return self.nbytes / self.best

    def to_json(self) -> dict[str, object]:
        return {
            "records": self.records,
            "bytes": self.nbytes,
            "runs_s": [round(r, 6) for r in self.runs],
            "best_s": round(self.best, 6),
            "records_per_s": round(self.records_per_s, 1),
            "bytes_per_s": round(self.bytes_per_s, 1),
        }


def write_all(fd: int, data: bytes | memoryview) -> None:
    """``os.write`` until every byte is written (regular files rarely write short)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def open_append(path: str) -> int:
    """A new file opened for appending, as a log segment is."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)


def log_bytes(data_dir: str) -> int:
    """Total size of the segment files (``*.log``) under a logway data directory."""
    total = 0
    for parent, _dirs, files in os.walk(data_dir):
        total += sum(os.path.getsize(os.path.join(parent, f)) for f in files if f.endswith(".log"))
    return total


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Ask a server process to stop; kill it if it has not within 30 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
