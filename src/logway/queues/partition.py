"""The state of one partition of a queue: which records are in flight, with whom, and
how often each was delivered. ``SharePartition``, pure (no I/O).

It follows Kafka's share groups (KIP-932): the records from the *start offset* on are
in a window where each is AVAILABLE, ACQUIRED (delivered to one consumer until its
lock runs out), ACKNOWLEDGED or ARCHIVED; every offset below the start offset is
done. A delivery increments the record's delivery count; a record whose lock runs
out, or that its consumer releases, is AVAILABLE again unless it has been delivered
``max_receives`` times, when it is archived (here: sent to the dead-letter topic).
Acknowledging moves the start offset over every done record at its front.
"""

from __future__ import annotations

from dataclasses import dataclass

AVAILABLE, ACQUIRED, ACKED, ARCHIVED = "available", "acquired", "acked", "archived"


@dataclass
class Entry:
    state: str
    count: int  # deliveries so far
    holder: str = ""  # the consumer holding it while ACQUIRED
    until: float = 0.0  # when its lock runs out (monotonic seconds)
    receipt: int = 0  # which acquisition this is: an old receipt cannot settle it


class SharePartition:
    """Offsets ``start`` to ``fetched`` (exclusive) with their entries; every offset
    below ``start`` is done, offsets from ``fetched`` on were never delivered."""

    def __init__(self, start: int):
        self.start = start
        self.fetched = start
        self.entries: dict[int, Entry] = {}
        self._receipts = 0

    @property
    def in_flight(self) -> int:
        return sum(1 for e in self.entries.values() if e.state == ACQUIRED)

    def available(self) -> list[int]:
        """Offsets delivered before and available again, in order."""
        return sorted(o for o, e in self.entries.items() if e.state == AVAILABLE)

    def acquire(self, offset: int, holder: str, until: float) -> Entry:
        """Deliver ``offset`` (AVAILABLE, or never delivered) to ``holder``."""
        entry = self.entries.get(offset)
        if entry is None:
            entry = self.entries[offset] = Entry(AVAILABLE, 0)
            self.fetched = max(self.fetched, offset + 1)
        assert entry.state == AVAILABLE, (offset, entry)
        self._receipts += 1
        entry.state, entry.holder, entry.until = ACQUIRED, holder, until
        entry.count += 1
        entry.receipt = self._receipts
        return entry

    def holds(self, offset: int, receipt: int) -> bool:
        """Whether ``receipt`` is the current acquisition of ``offset``."""
        entry = self.entries.get(offset)
        return entry is not None and entry.state == ACQUIRED and entry.receipt == receipt

    def settle(self, offset: int, state: str) -> None:
        """ACKED or ARCHIVED; moves the start offset over the done records at its front."""
        entry = self.entries.get(offset)
        if entry is None:
            entry = self.entries[offset] = Entry(state, 0)
            self.fetched = max(self.fetched, offset + 1)
        entry.state, entry.holder = state, ""
        self.settle_front()

    def release(self, offset: int) -> None:
        entry = self.entries[offset]
        entry.state, entry.holder = AVAILABLE, ""

    def expired(self, now: float) -> list[int]:
        """ACQUIRED offsets whose lock ran out at ``now``."""
        return [o for o, e in self.entries.items() if e.state == ACQUIRED and e.until <= now]

    def restore(self, entries: dict[int, tuple[str, int]]) -> None:
        """Entries from a durable state (ACQUIRED ones become AVAILABLE: their holders
        are gone)."""
        for offset, (state, count) in entries.items():
            if offset < self.start:
                continue
            self.entries[offset] = Entry(AVAILABLE if state == ACQUIRED else state, count)
            self.fetched = max(self.fetched, offset + 1)
        self.settle_front()

    def settle_front(self) -> None:
        """Move the start offset over the done records at the window's front."""
        while (front := self.entries.get(self.start)) is not None and front.state in (
            ACKED,
            ARCHIVED,
        ):
            del self.entries[self.start]
            self.start += 1
        if self.start > self.fetched:
            self.fetched = self.start
