"""The writer that ``test_crash.py`` kills: ``python crash_child.py DATA_DIR SEED [huge]``.

It opens ``file:DATA_DIR`` with the default ``fsync="always"`` and appends forever
(single records and batches, keys, headers, sizes from empty to hundreds of KiB,
some explicit timestamps, now and then a group commit). Every step is reported on
stdout, one JSON line per ``os.write`` (shorter than PIPE_BUF, so a kill never
leaves half a line that parses):

With a third argument ``huge`` it now and then appends a batch of several MiB,
so that a kill aimed at it may tear the write.

- ``ready``: the log is open; the end offset of each topic.
- ``intent``: the records a call is about to append (content digests, explicit
  timestamps or null), sent before the call.
- ``ack``: the call returned: the offsets and timestamps the broker acknowledged.
- ``commit-intent`` / ``commit-ack``: the same for a group commit.

The parent therefore knows exactly which records were acknowledged, and which
one call may have been in flight when the kill landed.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any

import logway
from logway import Message, TopicPartition

TOPICS: dict[str, dict[str, Any]] = {
    # small segments so that rolls happen under the kills too; retention off so
    # the maintenance thread never deletes what the parent expects to find
    "plain": {"segment_bytes": 256 * 1024, "retention_ms": -1},
    "zipped": {"segment_bytes": 32 * 1024, "retention_ms": -1, "compression": "zstd"},
}
GROUP = "crash-group"


def _raw(data: bytes | str | None) -> bytes | None:
    return data.encode() if isinstance(data, str) else data


def content_digest(
    key: bytes | str | None,
    value: bytes | str | None,
    headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None,
) -> str:
    """A digest of what a record holds besides its timestamp, computed the same way
    from what was produced and from a fetched ``Record`` (null and empty differ)."""
    h = hashlib.sha256()

    def put(data: bytes | str | None) -> None:
        raw = _raw(data)
        if raw is None:
            h.update(b"\x00")
        else:
            h.update(b"\x01" + len(raw).to_bytes(8, "big"))
            h.update(raw)

    put(key)
    put(value)
    pairs = list((headers.items() if isinstance(headers, Mapping) else headers) or ())
    h.update(len(pairs).to_bytes(8, "big"))
    for name, hvalue in pairs:
        put(name)
        put(hvalue)
    return h.hexdigest()[:40]


def emit(event: dict[str, Any]) -> None:
    line = (json.dumps(event, separators=(",", ":")) + "\n").encode()
    assert len(line) < 4096, "keep lines under PIPE_BUF so a write is all or nothing"
    os.write(1, line)


def random_value(rng: random.Random, big: bool) -> bytes | None:
    if big:
        return rng.randbytes(rng.randint(64 * 1024, 600 * 1024))
    roll = rng.random()
    if roll < 0.03:
        return None  # a tombstone
    if roll < 0.08:
        return b""
    if roll < 0.75:
        return rng.randbytes(rng.randint(1, 200))
    # compressible text of a few KiB
    return (f"line {rng.randint(0, 10**6)} ".encode() * rng.randint(10, 600))[:9000]


def random_key(rng: random.Random) -> bytes | str | None:
    roll = rng.random()
    if roll < 0.3:
        return None
    if roll < 0.7:
        return f"user-{rng.randint(0, 40)}"
    return rng.randbytes(rng.randint(0, 24))


def random_headers(rng: random.Random, n: int) -> Any:
    roll = rng.random()
    if roll < 0.35:
        return None
    if roll < 0.7:
        return {"trace": rng.randbytes(8).hex(), "n": str(n), "é": "ünïcode"}
    # a list may repeat a name and carry null values, as Kafka's headers may
    return [("h", rng.randbytes(rng.randint(0, 30))), ("h", None), ("seq", str(n).encode())]


def huge_batch(rng: random.Random) -> list[Message]:
    """A batch of several MiB: its write takes long enough for a kill to land inside
    it now and then, leaving a torn tail for recovery to cut."""
    return [
        Message(rng.randbytes(rng.randint(300_000, 900_000)), f"huge-{i}", {"part": str(i)})
        for i in range(rng.randint(4, 10))
    ]


def main() -> None:
    data_dir, seed = sys.argv[1], int(sys.argv[2])
    huge = len(sys.argv) > 3 and sys.argv[3] == "huge"
    rng = random.Random(seed)
    broker = logway.connect(f"file:{data_dir}")
    for name, config in TOPICS.items():
        if name not in broker.list_topics():
            broker.create_topic(name, **config)
    emit({"e": "ready", "end": {name: broker.end_offsets(name)[0] for name in TOPICS}})

    call = 0
    while True:
        call += 1
        topic = rng.choice(list(TOPICS))
        if rng.random() < 0.05:
            offsets = {name: broker.end_offsets(name)[0] for name in TOPICS}
            emit({"e": "commit-intent", "call": call, "offsets": offsets})
            broker.commit(GROUP, {TopicPartition(name, 0): o for name, o in offsets.items()})
            emit({"e": "commit-ack", "call": call})
            continue
        explicit_ts = rng.random() < 0.5
        big_at = rng.randrange(20) if rng.random() < 0.03 else -1
        single = rng.random() < 0.4
        count = 1 if single else rng.randint(1, 20)
        messages = []
        if huge and call > 3 and rng.random() < 0.3:
            topic, single, count, messages = "plain", False, 0, huge_batch(rng)
        for j in range(count):
            ts = None
            if explicit_ts or rng.random() < 0.2:
                ts = int(time.time() * 1000) + rng.randint(-3_600_000, 3_600_000)
            messages.append(
                Message(
                    random_value(rng, j == big_at),
                    random_key(rng),
                    random_headers(rng, call),
                    None,
                    ts,
                )
            )
        digests = [content_digest(m.key, m.value, m.headers) for m in messages]
        emit(
            {
                "e": "intent",
                "call": call,
                "topic": topic,
                "digests": digests,
                "ts": [m.timestamp for m in messages],
                "bytes": sum(len(m.value or b"") for m in messages),
            }
        )
        if single:
            m = messages[0]
            metas = [
                broker.produce(topic, m.value, key=m.key, headers=m.headers, timestamp=m.timestamp)
            ]
        else:
            metas = list(broker.produce_many(topic, messages))
        emit(
            {
                "e": "ack",
                "call": call,
                "topic": topic,
                "offsets": [meta.offset for meta in metas],
                "ts": [meta.timestamp for meta in metas],
                "digests": digests,
            }
        )


if __name__ == "__main__":
    main()
