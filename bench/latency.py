"""Single-record produce latency with ``fsync="always"`` against a bare durable append.

Each sample times one ``broker.produce(topic, value)``, which returns after fdatasync, and
one bare ``os.write`` + ``os.fdatasync`` of as many bytes as that produce adds to the
segment file (the record in its batch). The two alternate sample by sample, in alternating
order, so both see the same disk at the same moment.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import logway
from common import fsync_dir, log_bytes, make_values, open_append, percentile, write_all

TOPIC = "latency"


@dataclass
class Latencies:
    """Seconds per operation: logway produces and bare write + fdatasync of ``nbytes``."""

    logway: list[float]
    bare: list[float]
    nbytes: int

    def summary(self) -> dict[str, float]:
        return {
            "logway_p50_s": percentile(self.logway, 50),
            "logway_p99_s": percentile(self.logway, 99),
            "bare_p50_s": percentile(self.bare, 50),
            "bare_p99_s": percentile(self.bare, 99),
        }


def produce_latency(root: str, value_bytes: int, samples: int, warmup: int) -> Latencies:
    """Time ``samples`` single-record produces and as many bare durable appends, after
    ``warmup`` untimed pairs, into fresh files in a new ``latency`` directory in ``root``."""
    (value,) = make_values(value_bytes, 1)
    root = os.path.join(root, "latency")
    os.makedirs(root)
    data_dir = os.path.join(root, "logway")
    broker = logway.connect(f"file:{data_dir}")  # fsync="always" is the default
    try:
        broker.create_topic(TOPIC, partitions=1)
        broker.produce(TOPIC, value)
        nbytes = log_bytes(data_dir)  # one record in its own batch, as the file stores it
        payload = os.urandom(nbytes)
        bare_path = os.path.join(root, "bare.bin")
        fd = open_append(bare_path)
        try:
            fsync_dir(root)
            produced: list[float] = []
            bare: list[float] = []
            clock = time.perf_counter
            produce = broker.produce
            for i in range(warmup + samples):
                t0 = clock()
                if i % 2:
                    write_all(fd, payload)
                    os.fdatasync(fd)
                    t1 = clock()
                    produce(TOPIC, value)
                    t2 = clock()
                    logway_s, bare_s = t2 - t1, t1 - t0
                else:
                    produce(TOPIC, value)
                    t1 = clock()
                    write_all(fd, payload)
                    os.fdatasync(fd)
                    t2 = clock()
                    logway_s, bare_s = t1 - t0, t2 - t1
                if i >= warmup:
                    produced.append(logway_s)
                    bare.append(bare_s)
        finally:
            os.close(fd)
    finally:
        broker.close()
    return Latencies(produced, bare, nbytes)
