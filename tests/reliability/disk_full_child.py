"""The process that runs out of space for ``test_disk_full.py``:
``python disk_full_child.py MODE DATA_DIR LIMIT SEED FINISH``.

It caps the size of any file it writes at LIMIT bytes (``RLIMIT_FSIZE``, with
``SIGXFSZ`` ignored so the kernel refuses the write instead of killing the
process), which is how a full disk looks to one file, then:

- MODE ``produce``: appends records until an append fails, then keeps trying with
  smaller and smaller records until even a one-byte record is refused (the kernel
  writes what fits: short writes);
- MODE ``exact``: appends one record shape that fills the file exactly to LIMIT, so
  the next write is refused whole (``EFBIG``);
- MODE ``commit``: commits offsets of a consumer group until a commit fails;
- MODE ``index-full``: appends while the offset index of the active segment sits on
  ``/dev/full``, so the log write succeeds and the index write fails with ENOSPC.

It reports every acknowledged step and every failure as one JSON line on stdout,
reads back what it has in the same process, and then closes the broker cleanly
(FINISH ``close``) or exits without closing it (FINISH ``abandon``).
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import sys
from typing import Any

try:  # imported by the tests as part of the package, run by them as a script
    from tests.reliability.crash_child import content_digest
except ImportError:
    from crash_child import content_digest  # type: ignore[no-redef]

import logway
from logway import Message, TopicPartition

TOPIC = "t"
GROUP = "billing"
# a long topic name makes each commit a few KiB, so the group file meets the limit soon
COMMIT_TOPIC = "offsets-" + "x" * 190
COMMIT_PARTITIONS = 16
RECORDS_PER_PARTITION = 50
SIZES = [20_000, 2_000, 200, 20, 1]


def emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def failure(exc: BaseException, end: int) -> dict[str, Any]:
    return {
        "e": "error",
        "type": type(exc).__name__,
        "storage_error": isinstance(exc, logway.StorageError),
        "os_error": isinstance(exc, OSError),
        "message": str(exc),
        "end": end,
    }


def produce_until_full(broker: logway.Broker, rng: random.Random, limit: int) -> None:
    broker.create_topic(TOPIC)  # 1 GiB segments: the one log file runs into the limit
    written = 0
    for size in SIZES:
        while True:
            messages = [
                Message(
                    rng.randbytes(rng.randint(max(1, size // 2), size)),
                    key=f"key-{rng.randint(0, 9)}",
                    headers={"size": str(size)},
                    timestamp=None if rng.random() < 0.5 else 1_700_000_000_000 + written,
                )
                for _ in range(rng.randint(1, 4))
            ]
            try:
                if len(messages) == 1:
                    m = messages[0]
                    metas = [broker.produce(TOPIC, m.value, m.key, m.headers, None, m.timestamp)]
                else:
                    metas = list(broker.produce_many(TOPIC, messages))
            except Exception as exc:
                emit(failure(exc, broker.end_offsets(TOPIC)[0]))
                if not isinstance(exc, logway.StorageError):
                    return
                break  # full for this size: try smaller records
            written += sum(len(m.value or b"") for m in messages)
            emit(
                {
                    "e": "ack",
                    "offsets": [meta.offset for meta in metas],
                    "ts": [meta.timestamp for meta in metas],
                    "digests": [content_digest(m.key, m.value, m.headers) for m in messages],
                }
            )
            if written > 4 * limit:
                emit({"e": "limit-never-bit", "written": written})
                return
    # the data acknowledged before the failures, read back in this same process
    emit_readback(broker)


def emit_readback(broker: logway.Broker) -> None:
    """Report every record the log holds now, read back in this same process."""
    end = broker.end_offsets(TOPIC)[0]
    records = fetch_all(broker, end)
    emit(
        {
            "e": "readback",
            "end": end,
            "records": [
                [r.offset, content_digest(r.key, r.value, r.headers), r.timestamp] for r in records
            ],
        }
    )


def exact_record() -> Message:
    """Always the same bytes on disk: ``LIMIT`` can be a whole number of its batches,
    so the file ends exactly at the limit and the next write gets ``EFBIG``."""
    return Message(b"e" * 1000, key="exact", headers={"h": "v"}, timestamp=1_700_000_000_000)


def produce_exactly_to_the_limit(broker: logway.Broker) -> None:
    broker.create_topic(TOPIC)
    m = exact_record()
    refused = 0
    while refused < 3:
        try:
            meta = broker.produce(TOPIC, m.value, m.key, m.headers, None, m.timestamp)
        except Exception as exc:
            emit(failure(exc, broker.end_offsets(TOPIC)[0]))
            if not isinstance(exc, logway.StorageError):
                return
            refused += 1
            continue
        emit(
            {
                "e": "ack",
                "offsets": [meta.offset],
                "ts": [meta.timestamp],
                "digests": [content_digest(m.key, m.value, m.headers)],
            }
        )
        if meta.offset > 10_000:
            emit({"e": "limit-never-bit", "written": meta.offset})
            return
    emit_readback(broker)


def fetch_all(broker: logway.Broker, end: int) -> list[logway.Record]:
    out: list[logway.Record] = []
    while len(out) < end:
        records = broker.fetch(TOPIC, 0, len(out), max_records=1000, max_bytes=1 << 20)
        if not records:
            break
        out.extend(records)
    return out


def index_write_refused(broker: logway.Broker, data_dir: str) -> None:
    """The log file takes a batch but its offset index refuses the entry (ENOSPC): the
    index of the active segment is swapped for ``/dev/full`` before the first append
    (after an unclean open the index file is only opened for the first append)."""
    end = broker.end_offsets(TOPIC)[0]
    emit({"e": "ready", "end": end})
    index = os.path.join(data_dir, "topics", TOPIC, "0", f"{0:020d}.index")
    os.symlink("/dev/full", index + ".full")
    os.replace(index + ".full", index)
    for attempt in range(3):
        value = f"attempt {attempt}".encode()
        try:
            meta = broker.produce(TOPIC, value, key="k", timestamp=1_700_000_000_000)
        except Exception as exc:
            emit(failure(exc, broker.end_offsets(TOPIC)[0]))
            continue
        emit(
            {
                "e": "ack",
                "offsets": [meta.offset],
                "ts": [meta.timestamp],
                "digests": [content_digest("k", value, None)],
            }
        )
    os._exit(0)  # closing would flush the index, which /dev/full cannot do


def commit_until_full(broker: logway.Broker) -> None:
    broker.create_topic(COMMIT_TOPIC, partitions=COMMIT_PARTITIONS)
    for p in range(COMMIT_PARTITIONS):
        broker.produce_many(COMMIT_TOPIC, [b"x"] * RECORDS_PER_PARTITION, partition=p)
    failures = 0
    for k in range(100_000):
        offsets = {
            TopicPartition(COMMIT_TOPIC, p): (k * 7 + p) % (RECORDS_PER_PARTITION + 1)
            for p in range(COMMIT_PARTITIONS)
        }
        try:
            broker.commit(GROUP, offsets)
        except Exception as exc:
            emit(failure(exc, -1))
            failures += 1
            if failures == 2 or not isinstance(exc, logway.StorageError):
                break
            continue  # try once more: it must fail the same way
        emit({"e": "commit-ack", "offsets": {str(tp.partition): o for tp, o in offsets.items()}})
    committed = broker.committed(GROUP)
    emit({"e": "after", "committed": {str(tp.partition): o for tp, o in committed.items()}})


def main() -> None:
    mode, data_dir, limit, seed, finish = sys.argv[1:6]
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    broker = logway.connect(f"file:{data_dir}")
    if mode == "produce":
        produce_until_full(broker, random.Random(int(seed)), int(limit))
    elif mode == "exact":
        produce_exactly_to_the_limit(broker)
    elif mode == "index-full":
        index_write_refused(broker, data_dir)
    else:
        commit_until_full(broker)
    if finish == "close":
        broker.close()
        emit({"e": "closed"})
    else:
        os._exit(0)  # no close: the next open is an unclean one


if __name__ == "__main__":
    main()
