"""Delivery of 1 KiB JSON records into Parquet files in a local directory, against
pyarrow writing the same records as one table directly, in the same run.

- pyarrow: the records' values joined into one newline-delimited buffer, read with
  ``pyarrow.json.read_json`` and written with ``pyarrow.parquet.write_table`` (snappy)
  to one file, synced: the least work that turns these JSON values into Parquet;
- logway: a delivery stream (``DeliveryRunner``, ``until_end``) on the embedded
  backend, from reading the topic to the last object written and committed, 64 MB
  buffers, snappy, with the record columns (topic, partition, offset, timestamp, key)
  and the exactly-once bookkeeping.

Figures are records per second.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import shutil
import time
from dataclasses import dataclass

import pyarrow.json as pa_json
import pyarrow.parquet as pq

import logway
from common import BATCH, Throughput
from logway.delivery.runner import DeliveryRunner
from logway.delivery.settings import DeliverySettings, DeliverySpec

TOPIC = "clicks"
RECORD_BYTES = 1024


def make_json_values(count: int) -> list[bytes]:
    """``count`` distinct JSON objects of about 1 KiB: a few typed fields and text."""
    rng = random.Random(7)
    values = []
    for i in range(count):
        row = {
            "id": i,
            "user": f"user-{rng.randrange(10_000)}",
            "country": rng.choice(["de", "fr", "jp", "us", "br"]),
            "amount": round(rng.random() * 100, 2),
            "ok": i % 3 != 0,
            "path": "/" + "/".join(rng.choice("abcdefgh") * 4 for _ in range(3)),
        }
        pad = RECORD_BYTES - len(json.dumps(row)) - len(', "text": ""')
        row["text"] = "".join(rng.choice("abcdefghij klmnop") for _ in range(max(pad, 0)))
        values.append(json.dumps(row).encode())
    return values


@dataclass
class DeliveryFigures:
    logway: Throughput
    pyarrow: Throughput
    objects: int

    def to_json(self) -> dict[str, object]:
        return {
            "logway": self.logway.to_json(),
            "pyarrow": self.pyarrow.to_json(),
            "objects": self.objects,
        }


def pyarrow_direct(values: list[bytes], path: str) -> float:
    start = time.perf_counter()
    table = pa_json.read_json(io.BytesIO(b"\n".join(values)))
    pq.write_table(table, path, compression="snappy")
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - start


def logway_delivery(broker: logway.Broker, lake: str) -> tuple[float, int]:
    settings = DeliverySettings.build(lake, buffer_size="64MB", buffer_interval="900s")
    runner = DeliveryRunner(broker, "bench", DeliverySpec(TOPIC, TOPIC, settings), until_end=True)
    start = time.perf_counter()
    asyncio.run(runner.run(asyncio.Event()))
    elapsed = time.perf_counter() - start
    assert runner.stats.records_delivered == sum(broker.end_offsets(TOPIC).values()), (
        runner.status()
    )
    return elapsed, runner.stats.objects


def measure_delivery(root: str, records: int, repetitions: int) -> DeliveryFigures:
    """Per repetition, in a fresh directory under ``root``: produce the topic, time the
    delivery, then pyarrow's direct write of the same values (alternating which goes first)."""
    values = make_json_values(BATCH)
    everything = values * (records // BATCH)
    nbytes = sum(len(v) for v in everything)
    ours: list[float] = []
    theirs: list[float] = []
    objects = 0
    for rep in range(repetitions):
        base = os.path.join(root, f"delivery-{rep}")
        os.makedirs(base)
        with logway.connect(f"file:{os.path.join(base, 'data')}") as broker:
            broker.create_topic(TOPIC, retention_ms=-1)
            for _ in range(records // BATCH):
                broker.produce_many(TOPIC, values)
            direct = os.path.join(base, "direct.parquet")
            # each side starts with nothing left to write back (the topic, an earlier
            # section's files), so that neither pays for the other's disk work
            if rep % 2:
                os.sync()
                theirs.append(pyarrow_direct(everything, direct))
            os.sync()
            seconds, objects = logway_delivery(broker, os.path.join(base, "lake", TOPIC))
            ours.append(seconds)
            if not rep % 2:
                os.sync()
                theirs.append(pyarrow_direct(everything, direct))
        shutil.rmtree(base)
    return DeliveryFigures(
        Throughput(records, nbytes, ours), Throughput(records, nbytes, theirs), objects
    )


if __name__ == "__main__":  # this section alone: python bench/delivery.py
    import tempfile

    from common import REPETITIONS, Sizes

    with tempfile.TemporaryDirectory() as tmp:
        f = measure_delivery(tmp, Sizes().delivery_records, REPETITIONS)
        print(json.dumps(f.to_json(), indent=1))
        print(f"ratio {f.logway.records_per_s / f.pyarrow.records_per_s:.2f}")
