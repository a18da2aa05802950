"""Key to partition, as Kafka's Java clients do it.

``partition_for_key`` is ``Utils.toPositive(Utils.murmur2(key)) % partitions``
from Kafka's ``BuiltInPartitioner``, so a key lands on the same partition in
logway's own log and in a Kafka cluster (whose librdkafka clients must be set to
the ``murmur2_random`` partitioner to agree).
"""

from __future__ import annotations

import os
from collections.abc import Callable


def py_murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2``: 32-bit murmur2, seed 0x9747b28c, as a signed int."""
    length = len(data)
    m, r = 0x5BD1E995, 24
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    n4 = length // 4
    for i in range(n4):
        k = int.from_bytes(data[i * 4 : i * 4 + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length & 3
    if tail:
        base = n4 * 4
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


murmur2: Callable[[bytes], int] = py_murmur2
if not os.environ.get("LOGWAY_PURE_PYTHON"):
    try:
        from logway._speedups import murmur2
    except ImportError:
        pass


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
