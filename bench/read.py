"""Sequential read throughput: ``broker.fetch`` of every record as ``Record`` objects.

The records are the ones the 100-byte append benchmark just wrote, so they are in the page
cache, as they are for the peers; this measures the read path (pread, CRC-32C, decoding,
building objects), not the disk. The reference is the Python floor: the struct floor's
file read back in chunks of one batch, one tuple per record with ``struct.unpack_from``.
"""

from __future__ import annotations

import os
import struct
import time

import logway
from append import TOPIC
from common import BATCH

FETCH_MAX_BYTES = 64 << 20
_LENGTH = struct.Struct(">I")


def logway_read(data_dir: str, expected: int) -> float:
    """Seconds to fetch every record of the benchmark topic from offset 0 to its end offset,
    ``BATCH`` records per ``fetch``; checks that ``expected`` records came back."""
    broker = logway.connect(f"file:{data_dir}")
    try:
        end = broker.end_offsets(TOPIC)[0]
        fetch = broker.fetch
        count = offset = 0
        start = time.perf_counter()
        while offset < end:
            records = fetch(TOPIC, 0, offset, max_records=BATCH, max_bytes=FETCH_MAX_BYTES)
            count += len(records)
            offset = records[-1].offset + 1
        elapsed = time.perf_counter() - start
    finally:
        broker.close()
    if count != expected or offset != end:
        raise RuntimeError(
            f"logway read {count} records up to offset {offset}, expected {expected}"
        )
    return elapsed


def struct_floor_read(path: str, value_bytes: int, expected: int) -> float:
    """Seconds for the Python floor: pread the floor's file a batch at a time and build an
    ``(offset, value)`` tuple per length-prefixed record."""
    unpack = _LENGTH.unpack_from
    chunk_bytes = BATCH * (_LENGTH.size + value_bytes)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        offset = position = 0
        start = time.perf_counter()
        while True:
            chunk = os.pread(fd, chunk_bytes, position)
            if not chunk:
                break
            position += len(chunk)
            pos, end = 0, len(chunk)
            records = []
            while pos < end:
                (length,) = unpack(chunk, pos)
                pos += 4
                records.append((offset, chunk[pos : pos + length]))
                pos += length
                offset += 1
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
    if offset != expected:
        raise RuntimeError(f"the read floor found {offset} records, expected {expected}")
    return elapsed
