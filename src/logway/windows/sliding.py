"""Kafka Streams' sliding windows: ``SlidingWindows`` buffers each key's records.

As Kafka Streams defines them (``SlidingWindows.ofTimeDifferenceAndGrace``), a window
``[start, end]`` (both ends inclusive, ``end = start + size``) is created each time a
record enters the sliding window or drops out of it: for each record ``t`` the window
``[t - size, t]`` and, when a later record lies within ``size + 1`` of it, the window
``[t + 1, t + 1 + size]``. A window closes when the watermark passes its end
(``end < watermark``: Kafka's stream-time - grace > window end).

Windows overlap heavily, so rather than a state per window each key keeps its records
(sorted by event time) while a window that holds or is defined by them is open, and a
window's aggregate is folded from them, in arrival order, when it is emitted. A record
costs a scan of its key's buffer: slower than tumbling windows, meant for modest rates.
"""

from __future__ import annotations

import bisect
from typing import Any

from logway.windows.aggregates import Aggregations, State

Entry = tuple[int, int, Any]  # (event time, arrival sequence, value)


class SlidingWindows:
    """Each key's buffered records and the windows they make."""

    def __init__(self, size_ms: int, aggregations: Aggregations):
        self.size = size_ms
        self.aggregations = aggregations
        self.buffers: dict[Any, list[Entry]] = {}
        self.records = 0
        self._seq = 0

    def starts_holding(self, buffer: list[Entry], t: int) -> set[int]:
        """Starts of the windows of ``buffer`` (which holds a record at ``t``) holding ``t``."""
        d = self.size
        times = [e[0] for e in buffer]
        starts = {t - d}
        lo = bisect.bisect_left(times, t - d - 1)
        for u in times[lo : bisect.bisect_right(times, t + d)]:
            if u < t:
                starts.add(u + 1)  # the window u's record drops out of
            elif u > t:
                starts.add(u - d)  # the window the later record at u enters
        return starts

    def right_window(self, buffer: list[Entry], t: int) -> int | None:
        """Start of the window made when the record at ``t`` drops out, if a later record
        falls in it."""
        times = [e[0] for e in buffer]
        i = bisect.bisect_right(times, t)
        return t + 1 if i < len(times) and times[i] <= t + 1 + self.size else None

    def all_starts(self, buffer: list[Entry]) -> set[int]:
        """Starts of every window the records of ``buffer`` make."""
        d = self.size
        times = [e[0] for e in buffer]
        starts = {u - d for u in times}
        for i, u in enumerate(times):
            j = bisect.bisect_right(times, u, i)
            if j < len(times) and times[j] <= u + 1 + d:
                starts.add(u + 1)
        return starts

    def fold(self, buffer: list[Entry], start: int) -> State:
        """The aggregate of the records in ``[start, start + size]``, in arrival order."""
        times = [e[0] for e in buffer]
        lo = bisect.bisect_left(times, start)
        hi = bisect.bisect_right(times, start + self.size)
        state = self.aggregations.initial()
        add = self.aggregations.add
        for t, _, value in sorted(buffer[lo:hi], key=lambda e: e[1]):
            add(state, value, t)
        return state

    def insert(self, key: Any, t: int, value: Any) -> tuple[list[Entry], Entry]:
        """Buffer the record; return the key's buffer and the record's entry."""
        buffer = self.buffers.setdefault(key, [])
        self._seq += 1
        entry = (t, self._seq, value)
        bisect.insort(buffer, entry, key=lambda e: (e[0], e[1]))
        self.records += 1
        return buffer, entry

    def remove(self, key: Any, entry: Entry) -> None:
        """Take back a record ``insert`` buffered."""
        buffer = self.buffers[key]
        buffer.remove(entry)
        self.records -= 1
        if not buffer:
            del self.buffers[key]

    def expire(self, watermark: int) -> None:
        """Drop records no open window holds or is made by (``t + 1 + size < watermark``)."""
        limit = watermark - self.size - 1
        for key in list(self.buffers):
            buffer = self.buffers[key]
            keep = [e for e in buffer if e[0] >= limit]
            self.records -= len(buffer) - len(keep)
            if keep:
                self.buffers[key] = keep
            else:
                del self.buffers[key]

    def restore(self, key: Any, t: int, seq: int, value: Any) -> None:
        """Buffer a record from a snapshot."""
        self.buffers.setdefault(key, []).append((t, seq, value))
        self.records += 1
        self._seq = max(self._seq, seq)
