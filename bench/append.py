"""Append throughput: logway's ``produce_many`` against the floors it should approach.

- 100-byte records, against the *Python floor*: a loop that only builds a length-prefixed
  record per value with ``struct.pack``, joins each batch and writes + fdatasyncs it.
- 1 KiB records, against the *disk*: write + fdatasync of a file of the same total size in
  chunks the size of logway's batches on disk.

Both sides do one fdatasync per batch of ``BATCH`` records (logway's default
``fsync="always"`` syncs once per ``produce_many`` per partition; the topic has one).
"""

from __future__ import annotations

import os
import shutil
import struct
import time
from dataclasses import dataclass

import logway
from common import (
    BATCH,
    Throughput,
    fsync_dir,
    log_bytes,
    make_values,
    open_append,
    write_all,
)

TOPIC = "bench"
_LENGTH = struct.Struct(">I")


def logway_append(data_dir: str, values: list[bytes], batches: int) -> float:
    """Seconds to ``produce_many`` ``batches`` batches of ``values`` into a new 1-partition
    topic of an embedded log at ``data_dir`` (opening and closing are not timed)."""
    broker = logway.connect(f"file:{data_dir}")
    try:
        broker.create_topic(TOPIC, partitions=1)
        produce_many = broker.produce_many
        start = time.perf_counter()
        for _ in range(batches):
            produce_many(TOPIC, values)
        return time.perf_counter() - start
    finally:
        broker.close()


def struct_floor_append(path: str, values: list[bytes], batches: int) -> float:
    """Seconds for the Python floor: per record ``struct.pack`` a length prefix onto the
    value, join the batch, append it to a new file and fdatasync, per batch."""
    prefix = _LENGTH.pack
    fd = open_append(path)
    try:
        fsync_dir(os.path.dirname(path))
        start = time.perf_counter()
        for _ in range(batches):
            write_all(fd, b"".join([prefix(len(v)) + v for v in values]))
            os.fdatasync(fd)
        return time.perf_counter() - start
    finally:
        os.close(fd)


def disk_sequential_write(path: str, chunk_bytes: int, chunks: int) -> float:
    """Seconds to append ``chunks`` chunks of ``chunk_bytes`` to a new file, fdatasync after
    each: the disk's sequential write bandwidth as a Python program can use it."""
    chunk = os.urandom(chunk_bytes)
    fd = open_append(path)
    try:
        fsync_dir(os.path.dirname(path))
        start = time.perf_counter()
        for _ in range(chunks):
            write_all(fd, chunk)
            os.fdatasync(fd)
        return time.perf_counter() - start
    finally:
        os.close(fd)


@dataclass
class LargeAppend:
    """1 KiB records: logway's on-disk bytes per second and the disk's, best of the runs."""

    logway: Throughput
    disk: Throughput
    chunk_bytes: int


def append_large(root: str, records: int, size: int, repetitions: int) -> LargeAppend:
    """Append ``records`` records of ``size`` bytes with logway, then write as many bytes to
    a plain file in chunks of logway's average batch size on disk; alternating, each into
    fresh files under ``root``, removed after each repetition."""
    values = make_values(size)
    batches = records // BATCH
    logway_runs: list[float] = []
    disk_runs: list[float] = []
    stored = chunk = 0
    for rep in range(repetitions):
        base = os.path.join(root, f"large-{rep}")
        os.makedirs(base)
        data_dir = os.path.join(base, "logway")
        logway_runs.append(logway_append(data_dir, values, batches))
        stored = log_bytes(data_dir)
        chunk = stored // batches
        disk_runs.append(disk_sequential_write(os.path.join(base, "disk.bin"), chunk, batches))
        shutil.rmtree(base)
    return LargeAppend(
        Throughput(records, stored, logway_runs),
        Throughput(records, chunk * batches, disk_runs),
        chunk,
    )
