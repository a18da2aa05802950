"""Peer systems doing the same job from Python: SQLite in WAL mode, Redis Streams, and
Quix Streams on a Kafka-API broker.

Both append the same 100-byte values in batches of ``BATCH`` with a durable commit per
batch, as logway's ``produce_many`` with ``fsync="always"`` does, then read everything
back in order in chunks of ``BATCH``, building a Python object per record.

- SQLite (stdlib ``sqlite3``): ``journal_mode=WAL``, ``synchronous=FULL`` (each commit is
  fsynced), one transaction of ``executemany`` per batch into
  ``(id INTEGER PRIMARY KEY, key BLOB, value BLOB, ts INTEGER)``; reads are
  ``SELECT ... WHERE id > ? ORDER BY id LIMIT BATCH`` (a tuple per row).
- Redis Streams: a ``redis-server`` started here on a free loopback port with
  ``--save '' --appendonly yes --appendfsync always`` (fsync before replying) and automatic
  AOF rewrites off (no fork competing for the 2 CPUs mid-run, which only favours Redis);
  XADD pipelined per batch and XRANGE per chunk through the ``redis`` client (pure-Python
  parser: no hiredis).
- Quix Streams (``quix_peer.py``): an ``Application`` reading a topic with a fresh
  consumer group from the start, the same handler in ``StreamingDataFrame.update``, in
  a process and virtualenv of its own (``bench/results/quix-venv``, made on first use:
  Quix Streams pins an older confluent-kafka than logway's).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from types import TracebackType
from typing import cast

import redis

from common import BATCH, BENCH_DIR, RESULTS_DIR

# --- SQLite -----------------------------------------------------------------------------


def _sqlite_connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)  # explicit BEGIN/COMMIT below
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def sqlite_append(path: str, values: list[bytes], batches: int) -> float:
    """Seconds to insert ``batches`` batches of ``values`` into a new database, one
    durable transaction per batch."""
    conn = _sqlite_connect(path)
    try:
        conn.execute(
            "CREATE TABLE records (id INTEGER PRIMARY KEY, key BLOB, value BLOB, ts INTEGER)"
        )
        insert = "INSERT INTO records (key, value, ts) VALUES (?, ?, ?)"
        start = time.perf_counter()
        for _ in range(batches):
            ts = int(time.time() * 1000)
            conn.execute("BEGIN")
            conn.executemany(insert, [(None, v, ts) for v in values])
            conn.execute("COMMIT")
        return time.perf_counter() - start
    finally:
        conn.close()


def sqlite_read(path: str, expected: int) -> float:
    """Seconds to select every row in id order, ``BATCH`` rows per query."""
    conn = _sqlite_connect(path)
    try:
        query = "SELECT id, key, value, ts FROM records WHERE id > ? ORDER BY id LIMIT ?"
        count = last = 0
        start = time.perf_counter()
        while True:
            rows = conn.execute(query, (last, BATCH)).fetchall()
            if not rows:
                break
            count += len(rows)
            last = rows[-1][0]
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    if count != expected:
        raise RuntimeError(f"SQLite returned {count} rows, expected {expected}")
    return elapsed


# --- Redis Streams ----------------------------------------------------------------------

START_DEADLINE_S = 15.0


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """A private ``redis-server`` with an fsync-always append-only file in ``directory``,
    started on entry and stopped (and waited for) on exit."""

    def __init__(self, directory: str):
        self.directory = directory
        self.port = 0
        self.version = ""
        self.log_path = os.path.join(directory, "redis.log")
        self._process: subprocess.Popen[bytes] | None = None
        self.client: redis.Redis | None = None

    def __enter__(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH; run 'bash bench/ensure-redis.sh'")
        self.port = free_port()
        args = [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--auto-aof-rewrite-percentage", "0",  # no background rewrite forks mid-run
            "--dir", self.directory,
            "--daemonize", "no",
        ]  # fmt: skip
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            self.client = self._wait_until_ready()
            self.version = str(self.client.info("server")["redis_version"])
        except BaseException:
            self._stop()
            raise
        return self

    def _wait_until_ready(self) -> redis.Redis:
        """Poll PING until the server answers, it exits, or the deadline passes."""
        assert self._process is not None
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with code {self._process.returncode} on start:\n"
                    + self._log_tail()
                )
            client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=60)
            try:
                if client.ping():
                    return client
            except redis.exceptions.ConnectionError:
                client.close()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"redis-server did not answer PING on port {self.port} within "
                    f"{START_DEADLINE_S:.0f}s:\n" + self._log_tail()
                )
            time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join(log.readlines()[-20:])
        except OSError:
            return "(no log)"

    def _stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # SIGTERM: redis flushes the AOF and exits
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()


def redis_append(client: redis.Redis, stream: str, values: list[bytes], batches: int) -> float:
    """Seconds to XADD ``batches`` batches of ``values``, one pipeline round trip each."""
    start = time.perf_counter()
    for _ in range(batches):
        pipe = client.pipeline(transaction=False)
        for v in values:
            pipe.xadd(stream, {b"v": v})
        pipe.execute()
    return time.perf_counter() - start


def _after(entry_id: bytes) -> bytes:
    """The smallest stream id greater than ``entry_id`` (``ms-seq``)."""
    ms, seq = entry_id.split(b"-")
    return ms + b"-" + str(int(seq) + 1).encode()


def redis_read(client: redis.Redis, stream: str, expected: int) -> float:
    """Seconds to XRANGE the whole stream in order, ``BATCH`` entries per call."""
    count = 0
    low: bytes = b"-"
    start = time.perf_counter()
    while True:
        entries = client.xrange(stream, min=low, max="+", count=BATCH)
        if not entries:
            break
        count += len(entries)
        low = _after(cast(bytes, entries[-1][0]))  # ids are bytes: no decode_responses
    elapsed = time.perf_counter() - start
    if count != expected:
        raise RuntimeError(f"Redis returned {count} stream entries, expected {expected}")
    return elapsed


# --- Quix Streams -----------------------------------------------------------------------

QUIX_VERSION = "3.28.1"
QUIX_VENV = os.path.join(RESULTS_DIR, "quix-venv")
QUIX_TIMEOUT_S = 300.0


def quix_python() -> str:
    """The interpreter of a virtualenv with Quix Streams, made (with pip, from the
    package index) the first time."""
    python = os.path.join(QUIX_VENV, "bin", "python")
    check = [
        python,
        "-c",
        f"import quixstreams; assert quixstreams.__version__ == {QUIX_VERSION!r}",
    ]
    if os.path.exists(python) and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"  installing quixstreams=={QUIX_VERSION} into {QUIX_VENV}", file=sys.stderr)
    for command in (
        [sys.executable, "-m", "venv", "--clear", QUIX_VENV],
        [python, "-m", "pip", "install", "-q", f"quixstreams=={QUIX_VERSION}"],
    ):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return python


def quix_read(servers: str, topic: str, group: str, records: int, session_ms: int) -> float:
    """Seconds Quix Streams takes from the first record of ``topic`` to the last."""
    script = os.path.join(BENCH_DIR, "quix_peer.py")
    done = subprocess.run(
        [quix_python(), script, servers, topic, group, str(records), str(session_ms)],
        capture_output=True,
        text=True,
        timeout=QUIX_TIMEOUT_S,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"the Quix Streams peer failed:\n{done.stderr[-2000:]}")
    result = json.loads(lines[-1])
    if result["records"] != records:
        raise RuntimeError(f"Quix Streams read {result['records']} records of {records}")
    return float(result["seconds"])
