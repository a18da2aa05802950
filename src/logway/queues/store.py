"""A queue's durable state in the topic ``__logway_queues``: ``QueueStore``.

Each change is a small JSON record keyed by the queue (``group`` and ``topic``): the
offsets acquired with their delivery counts, the offsets acknowledged, the offsets
archived. Every ``SNAPSHOT_EVERY`` changes the whole state is written instead, so a
restore reads the newest snapshot and the changes after it. A change is stored before
the call that made it returns: an acknowledged record is never delivered again, and a
delivery count survives a restart.
"""

from __future__ import annotations

import json
from typing import Any

from logway.broker import Broker, ensure_topic
from logway.jobs import newest
from logway.queues.partition import ACKED, ACQUIRED, ARCHIVED, SharePartition

STATE_TOPIC = "__logway_queues"
SNAPSHOT_EVERY = 1000


class QueueStore:
    def __init__(self, broker: Broker, group: str, topic: str):
        self.broker = broker
        self.key = f"{group}\x00{topic}".encode()
        self.changes = 0
        ensure_topic(broker, STATE_TOPIC, retention_ms="7d")

    def load(self) -> dict[int, tuple[int, dict[int, tuple[str, int]]]] | None:
        """``{partition: (start, {offset: (state, count)})}``, or None for a new queue."""
        key = self.key
        found = newest(
            self.broker,
            STATE_TOPIC,
            lambda r: r.key == key and r.header("logway.queue.snapshot") is not None,
        )
        if not found:
            return None
        _, snapshot = found[0]
        state: dict[int, tuple[int, dict[int, tuple[str, int]]]] = {}
        for p, (start, entries) in json.loads(snapshot.value or b"{}").items():
            state[int(p)] = (int(start), {int(o): (s, int(c)) for o, (s, c) in entries.items()})
        offset = snapshot.offset + 1
        end = self.broker.end_offsets(STATE_TOPIC)[0]
        while offset < end:
            for record in self.broker.fetch(STATE_TOPIC, 0, offset, max_records=1000):
                offset = record.offset + 1
                if record.key == key:
                    _apply(state, json.loads(record.value or b"{}"))
        return state

    def change(self, partition: int, kind: str, items: list[Any], parts: Any) -> None:
        """Store a change (``kind`` "acquired" with [offset, count] items, "acked" or
        "archived" with offsets); every ``SNAPSHOT_EVERY`` the whole state instead."""
        self.changes += 1
        if self.changes % SNAPSHOT_EVERY == 0:
            self.snapshot(parts)
            return
        value = json.dumps({"p": partition, kind: items}, separators=(",", ":")).encode()
        self.broker.produce(STATE_TOPIC, value, self.key, partition=0)

    def snapshot(self, parts: dict[int, SharePartition]) -> None:
        state = {
            str(p): [sp.start, {str(o): [e.state, e.count] for o, e in sp.entries.items()}]
            for p, sp in parts.items()
        }
        self.broker.produce(
            STATE_TOPIC,
            json.dumps(state, separators=(",", ":")).encode(),
            self.key,
            (("logway.queue.snapshot", b"1"),),
            partition=0,
        )


def _apply(
    state: dict[int, tuple[int, dict[int, tuple[str, int]]]], change: dict[str, Any]
) -> None:
    p = int(change["p"])
    _, entries = state.setdefault(p, (0, {}))
    for offset, count in change.get("acquired", ()):
        entries[int(offset)] = (ACQUIRED, int(count))
    for kind, code in (("acked", ACKED), ("archived", ARCHIVED)):
        for offset in change.get(kind, ()):
            old = entries.get(int(offset), (code, 0))
            entries[int(offset)] = (code, old[1])
