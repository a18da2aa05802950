"""Watermarks from the event times seen per partition, with idleness: ``Watermarks``.

The rule, as Flink's ``WatermarkStrategy.forBoundedOutOfOrderness(grace).withIdleness(idle)``:

- each partition's watermark is the max event time seen on it - ``grace``;
- the watermark is the minimum over partitions that are not idle; a partition named with
  ``assign`` holds it back before its first record too (until it goes idle), so records
  read later from a slower partition are not taken for late ones;
- a partition is idle once no record arrived on it for ``idle_ms`` of wall-clock time, and
  then stops holding the watermark back;
- unlike Flink, where a watermark stops when every input is idle, here when every partition is
  idle event time is taken to move on with the wall clock: the watermark is the max over
  partitions of ``max event time - grace + (now - last record's arrival - idle_ms)``. So the
  last window of a quiet stream closes ``idle_ms`` after the wall-clock time at which its end
  (plus grace) would have been reached, without new data;
- the watermark never goes down.
"""

from __future__ import annotations

MIN_WATERMARK = -(2**63)


class Watermarks:
    """Tracks max event time and last arrival per partition; ``current`` is the watermark."""

    def __init__(self, grace_ms: int, idle_ms: int):
        self.grace_ms = grace_ms
        self.idle_ms = idle_ms
        self._max: dict[int, int] = {}  # partition -> max event time
        self._seen: dict[int, int] = {}  # partition -> wall clock of its last record
        self._now = MIN_WATERMARK
        self._current = MIN_WATERMARK

    def assign(self, partitions: list[int], now_ms: int) -> None:
        """Partitions to wait for from ``now_ms`` though none of their records came yet."""
        for partition in partitions:
            if partition not in self._max:
                self._max[partition] = MIN_WATERMARK
                self._seen[partition] = now_ms
        if now_ms > self._now:
            self._now = now_ms

    def observe(self, partition: int, event_time_ms: int, now_ms: int) -> None:
        """A record with ``event_time_ms`` arrived on ``partition`` at wall clock ``now_ms``."""
        if event_time_ms > self._max.get(partition, MIN_WATERMARK):
            self._max[partition] = event_time_ms
        self._seen[partition] = now_ms
        if now_ms > self._now:
            self._now = now_ms

    def idle(self, now_ms: int) -> int:
        """Account for the wall clock at ``now_ms`` (call it when no record comes) and
        return the watermark."""
        if now_ms > self._now:
            self._now = now_ms
        return self.current

    def snapshot(self) -> dict[str, object]:
        """The max event time per partition and the watermark, as JSON."""
        return {"max": {str(p): m for p, m in self._max.items()}, "current": self.current}

    def restore(self, snapshot: dict[str, object], now_ms: int) -> None:
        """Continue from ``snapshot`` (every partition's idleness restarts at ``now_ms``)."""
        maxima = snapshot.get("max")
        if isinstance(maxima, dict):
            for p, m in maxima.items():
                self._max[int(p)] = int(m)
                self._seen[int(p)] = now_ms
        current = snapshot.get("current")
        if isinstance(current, int):
            self._current = max(self._current, current)
        self._now = max(self._now, now_ms)

    @property
    def current(self) -> int:
        """The watermark at the latest wall-clock time given."""
        if not self._max:
            return self._current
        now, idle, grace = self._now, self.idle_ms, self.grace_ms
        active = [m for p, m in self._max.items() if now - self._seen[p] < idle]
        if active:
            mark = min(active) - grace
        else:
            mark = max(m - grace + (now - self._seen[p] - idle) for p, m in self._max.items())
        if mark > self._current:
            self._current = mark
        return self._current
