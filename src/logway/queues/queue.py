"""Queues over a topic: competing consumers that take records one at a time.

``broker.queue(topic, group)`` gives a consumer of the queue ``group`` over ``topic``.
Its consumers share the records: each record is delivered to one consumer at a time,
however many consumers there are (more than partitions is fine), and

- ``ack`` settles it (never delivered again);
- ``release`` puts it back at once (delivered again, to any consumer);
- ``reject`` sends it to the dead-letter topic;
- a record not settled within ``visibility_timeout`` goes back by itself;
- a record delivered ``max_receives`` times and released or timed out once more goes
  to the dead-letter topic (``TOPIC-dlq`` unless ``dead_letter=`` names another), with
  its delivery count and the reason in headers.

Every delivery carries its delivery count (1 the first time). The state — the start
offset below which every record is done, and each in-flight record's state and count —
is stored in ``__logway_queues`` before a call returns (``store.py``), so it survives a
restart; records in flight when their consumers went away are delivered again once
their timeout passes (at once after a restart).

The semantics are Kafka's share groups (KIP-932) with SQS's words: acquisition lock =
visibility timeout, ACCEPT/RELEASE/REJECT = ack/release/reject, the delivery attempt
limit = ``max_receives``. Unlike KIP-932, a rejected or exhausted record is produced to
a dead-letter topic rather than only archived; unlike SQS, records stay in the log
after being acknowledged (the queue keeps its own position), and order is the log's
within a partition for first deliveries.

One ``QueueGroup`` in a process serves all of that process's consumers of a queue; to
share a queue between processes, serve it (``logway serve``) and consume over the
server.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from logway.broker import Broker, ensure_topic
from logway.errors import DeliveryExpiredError, InvalidArgumentError, OffsetOutOfRangeError
from logway.queues.partition import ACKED, ARCHIVED, AVAILABLE, SharePartition
from logway.queues.store import QueueStore
from logway.records import Record
from logway.units import parse_duration_ms

WAIT_S = 0.05  # how often a waiting receive looks for new records in the log
MAX_IN_FLIGHT = 10_000  # records delivered and not settled, per partition (KIP-932: 200)


@dataclass(frozen=True)
class Delivery:
    """A record delivered by a queue, with its delivery count. Settle it with
    ``ack()``, ``release()`` or ``reject(reason)`` (or the queue's methods)."""

    record: Record
    delivery_count: int
    receipt: int
    queue: Any  # Queue, or a queue over a server

    def ack(self) -> None:
        self.queue.ack([self])

    def release(self) -> None:
        self.queue.release([self])

    def reject(self, reason: str = "rejected") -> None:
        self.queue.reject([self], reason)


@dataclass(frozen=True)
class QueueSettings:
    visibility_timeout_s: float = 30.0
    max_receives: int = 5
    dead_letter: str = ""
    start: str = "latest"

    @classmethod
    def build(
        cls,
        topic: str,
        *,
        visibility_timeout: Any = "30s",
        max_receives: int = 5,
        dead_letter: str | None = None,
        start: str = "latest",
    ) -> QueueSettings:
        timeout_ms = parse_duration_ms(visibility_timeout, "visibility_timeout")
        if timeout_ms <= 0:
            raise InvalidArgumentError(
                f"visibility_timeout must be a positive duration such as '30s', not "
                f"{visibility_timeout!r}"
            )
        if isinstance(max_receives, bool) or not isinstance(max_receives, int) or max_receives < 1:
            raise InvalidArgumentError(f"max_receives must be at least 1, not {max_receives!r}")
        if start not in ("earliest", "latest"):
            raise InvalidArgumentError(f"start is 'earliest' or 'latest', not {start!r}")
        return cls(timeout_ms / 1000, max_receives, dead_letter or f"{topic}-dlq", start)


class QueueGroup:
    """The queue ``group`` over ``topic`` in this process: the state of its partitions
    and the consumers taking records from it."""

    def __init__(self, broker: Broker, topic: str, group: str, settings: QueueSettings):
        self.broker = broker
        self.topic = topic
        self.group = group
        self.settings = settings
        self._lock = threading.Condition()
        self._records: dict[tuple[int, int], Record] = {}  # in flight, for redelivery
        self._next_partition = 0
        # since this process opened the queue, for metrics
        self.stats = {"delivered": 0, "acked": 0, "dead_lettered": 0}
        self.store = QueueStore(broker, group, topic)
        ensure_topic(broker, settings.dead_letter)
        loaded = self.store.load()
        starts = broker.start_offsets(topic)
        ends = broker.end_offsets(topic)
        self.parts: dict[int, SharePartition] = {}
        for p in sorted(starts):
            if loaded is not None and p in loaded:
                start, entries = loaded[p]
                sp = SharePartition(max(start, starts[p]))
                sp.restore(entries)
            else:
                sp = SharePartition(starts[p] if settings.start == "earliest" else ends[p])
            self.parts[p] = sp
        if loaded is None:
            self.store.snapshot(self.parts)

    # --- receiving ------------------------------------------------------------------

    def receive(
        self, holder: str, queue: Queue, max_records: int, timeout: float
    ) -> list[Delivery]:
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            while True:
                self._expire()
                got = self._acquire(holder, queue, max_records)
                remaining = deadline - time.monotonic()
                if got or remaining <= 0:
                    return got
                self._lock.wait(min(WAIT_S, remaining))

    def _acquire(self, holder: str, queue: Queue, max_records: int) -> list[Delivery]:
        out: list[Delivery] = []
        until = time.monotonic() + self.settings.visibility_timeout_s
        count = len(self.parts)
        for i in range(count):  # partitions in turn, starting where the last call stopped
            if len(out) >= max_records:
                break
            p = (self._next_partition + i) % count
            sp = self.parts[p]
            acquired: list[tuple[int, int]] = []
            for offset in sp.available():  # delivered before, back in the queue
                if len(out) >= max_records:
                    break
                record = self._records.get((p, offset)) or self._refetch(p, offset)
                if record is None:  # deleted by retention meanwhile: nothing to deliver
                    sp.settle(offset, ARCHIVED)
                    continue
                entry = sp.acquire(offset, holder, until)
                self._records[(p, offset)] = record
                acquired.append((offset, entry.count))
                out.append(Delivery(record, entry.count, entry.receipt, queue))
            room = min(max_records - len(out), MAX_IN_FLIGHT - sp.in_flight)
            if room > 0:
                fresh = self._fetch(p, sp, room)
                for record in fresh:
                    entry = sp.acquire(record.offset, holder, until)
                    self._records[(p, record.offset)] = record
                    acquired.append((record.offset, entry.count))
                    out.append(Delivery(record, entry.count, entry.receipt, queue))
            if acquired:
                self.store.change(p, "acquired", [list(a) for a in acquired], self.parts)
                self.stats["delivered"] += len(acquired)
        self._next_partition = (self._next_partition + 1) % max(1, count)
        return out

    def _fetch(self, p: int, sp: SharePartition, room: int) -> list[Record]:
        """Records never delivered, from the partition's fetch position."""
        try:
            records = self.broker.fetch(self.topic, p, sp.fetched, max_records=room)
        except OffsetOutOfRangeError:  # retention deleted records never delivered
            sp.fetched = max(sp.fetched, self.broker.start_offsets(self.topic)[p])
            records = self.broker.fetch(self.topic, p, sp.fetched, max_records=room)
        return [r for r in records if r.offset >= sp.fetched]

    def _refetch(self, p: int, offset: int) -> Record | None:
        found = self.broker.fetch(self.topic, p, offset, max_records=1)
        return found[0] if found and found[0].offset == offset else None

    # --- settling -------------------------------------------------------------------

    def settle(self, items: Sequence[tuple[int, int, int]], how: str, reason: str = "") -> None:
        """Settle deliveries named by ``(partition, offset, receipt)``: ``how`` is "ack",
        "release" or "reject". All or nothing: ``DeliveryExpiredError`` when one is no
        longer held under that receipt."""
        if how not in ("ack", "release", "reject"):
            raise InvalidArgumentError(
                f"a delivery is settled by ack, release or reject, not {how!r}"
            )
        with self._lock:
            self._expire()
            for p, offset, receipt in items:
                sp = self.parts.get(p)
                if sp is None:
                    raise InvalidArgumentError(f"{self.topic} has no partition {p}")
                if not sp.holds(offset, receipt):
                    raise DeliveryExpiredError(
                        f"{self.topic}/{p}@{offset} is no longer held by this consumer: its "
                        f"visibility timeout ({self.settings.visibility_timeout_s:g}s) passed "
                        "and it went back to the queue, or it was settled already; nothing "
                        "was changed"
                    )
            by_partition: dict[int, list[int]] = {}
            for p, offset, _ in items:
                by_partition.setdefault(p, []).append(offset)
            for p, offsets in by_partition.items():
                sp = self.parts[p]
                if how == "ack":
                    for offset in offsets:
                        sp.settle(offset, ACKED)
                        self._records.pop((p, offset), None)
                    self.store.change(p, "acked", offsets, self.parts)
                    self.stats["acked"] += len(offsets)
                elif how == "release":
                    limit = self.settings.max_receives
                    exhausted = [o for o in offsets if sp.entries[o].count >= limit]
                    for offset in offsets:
                        if offset not in exhausted:
                            sp.release(offset)
                    self._archive(p, exhausted, "max_receives")
                else:
                    self._archive(p, offsets, reason or "rejected")
            self._lock.notify_all()

    def _archive(self, p: int, offsets: list[int], reason: str) -> None:
        """To the dead-letter topic, then settled as ARCHIVED (a crash in between sends
        them there again: at least once)."""
        sp = self.parts[p]
        messages = []
        for offset in offsets:
            r = self._records.get((p, offset)) or self._refetch(p, offset)
            if r is None:  # deleted by retention meanwhile
                continue
            headers = (
                *r.headers,
                ("logway.source.topic", r.topic.encode()),
                ("logway.source.partition", str(r.partition).encode()),
                ("logway.source.offset", str(r.offset).encode()),
                ("logway.queue", self.group.encode()),
                ("logway.queue.delivery_count", str(sp.entries[offset].count).encode()),
                ("logway.reason", reason.encode()),
            )
            messages.append((r.value, r.key, headers, None, r.timestamp))
        if not offsets:
            return
        if messages:
            self.broker.produce_many(self.settings.dead_letter, messages)
            self.stats["dead_lettered"] += len(messages)
        for offset in offsets:
            sp.settle(offset, ARCHIVED)
            self._records.pop((p, offset), None)
        self.store.change(p, "archived", offsets, self.parts)

    def _expire(self) -> None:
        """Records whose visibility timeout passed: back to the queue, or to the
        dead-letter topic after ``max_receives`` deliveries."""
        now = time.monotonic()
        for p, sp in self.parts.items():
            late = sp.expired(now)
            if not late:
                continue
            limit = self.settings.max_receives
            exhausted = [o for o in late if sp.entries[o].count >= limit]
            for offset in late:
                if offset not in exhausted:
                    sp.release(offset)
            self._archive(p, exhausted, "max_receives")

    def status(self) -> dict[str, Any]:
        with self._lock:
            self._expire()
            parts = self.parts.values()
            return {
                "queue": self.group,
                "topic": self.topic,
                "in_flight": sum(sp.in_flight for sp in parts),
                "available_again": sum(
                    1 for sp in parts for e in sp.entries.values() if e.state == AVAILABLE
                ),
                "start_offsets": {p: sp.start for p, sp in self.parts.items()},
                **self.stats,
            }


class Queue:
    """One consumer of a queue (see the module's docstring)."""

    def __init__(self, group: QueueGroup, name: str | None = None):
        self._group = group
        self.name = name or f"queue-consumer-{uuid.uuid4().hex[:12]}"
        self.closed = False

    @property
    def topic(self) -> str:
        return self._group.topic

    @property
    def shared(self) -> QueueGroup:
        """The queue this consumer takes from (a server settles for its clients there)."""
        return self._group

    def receive(self, max_records: int = 1, timeout: float = 0.0) -> list[Delivery]:
        """Up to ``max_records`` records, waiting up to ``timeout`` seconds for one."""
        if self.closed:
            raise InvalidArgumentError("this queue consumer is closed")
        if isinstance(max_records, bool) or not isinstance(max_records, int) or max_records < 1:
            raise InvalidArgumentError(f"max_records must be at least 1, not {max_records!r}")
        return self._group.receive(self.name, self, max_records, timeout)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Settle these deliveries: never delivered again. ``DeliveryExpiredError``
        (and nothing settled) when one is no longer held by this consumer."""
        self._group.settle(_items(deliveries), "ack")

    def release(self, deliveries: Sequence[Delivery]) -> None:
        """Back to the queue now (to the dead-letter topic after ``max_receives``)."""
        self._group.settle(_items(deliveries), "release")

    def reject(self, deliveries: Sequence[Delivery], reason: str = "rejected") -> None:
        """To the dead-letter topic, with ``reason``."""
        self._group.settle(_items(deliveries), "reject", reason)

    def status(self) -> dict[str, Any]:
        return self._group.status()

    def close(self) -> None:
        """Stop receiving; records this consumer holds go back once their timeout passes."""
        self.closed = True

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _items(deliveries: Sequence[Delivery]) -> list[tuple[int, int, int]]:
    return [(d.record.partition, d.record.offset, d.receipt) for d in deliveries]
