"""The windowed aggregation engine: records in, window results out, over event time.

Pure and single-threaded: the caller feeds ``add(key, event_time_ms, value)`` and raises the
watermark with ``advance(watermark_ms)`` (see ``watermark.py`` for one way to compute it:
max event time - grace, min across partitions). A window ``[start, end)`` is closed, and
its final result returned, once ``end <= watermark``, as Flink fires event-time windows;
a record whose every window is already closed is late and returned as ``Late`` (Flink
drops those, or sends them to a side output).

Tumbling and hopping windows of all keys are held in ``{start: {key: state}}``, so a
record costs one modulo and two dict lookups and a watermark closes whole starts at once.
Sessions are held per key as a list of ``[first, last, state]`` sorted by ``first``.
Sliding windows (``sliding.py``) keep each key's records and fold a window when emitted;
their ends are inclusive, as in Kafka Streams, so they close once ``end < watermark``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from logway.errors import InvalidArgumentError, WindowStateFullError
from logway.windows import keys
from logway.windows.aggregates import Aggregations, State
from logway.windows.sliding import SlidingWindows
from logway.windows.spec import Windowing

MIN_WATERMARK = -(2**63)
_SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class WindowResult:
    """The aggregates of one window of one key; ``final`` once the window closed."""

    key: Any
    start: int
    end: int
    values: dict[str, Any]
    final: bool


@dataclass(frozen=True)
class Late:
    """A record that arrived after every window it belongs to had closed."""

    key: Any
    event_time: int
    watermark: int
    reason: str


AddResult = tuple[Sequence[WindowResult], Late | None]  # () when nothing to emit


class WindowEngine:
    """Assigns records to windows, aggregates them and closes windows at the watermark.

    ``emit="final"``: ``add`` returns no results, ``advance`` the final result of each
    closed window. ``emit="update"``: ``add`` also returns a non-final result for every
    window the record changed (Kafka Streams' emit-on-update, Flink's early firing). When a
    record merges sessions, the update is for the merged session; no retraction is sent for
    the sessions it replaced (their start differs: a consumer keeps the latest per key and
    start, and the final result is the one that counts).

    Keys must be hashable (and str, bytes, int, float, bool, None or tuples of them for
    ``snapshot``); event times are int milliseconds."""

    add: Callable[[Any, int, Any], AddResult]
    """``add(key, event_time_ms, value) -> (results, late)``."""

    def __init__(
        self,
        windowing: Windowing,
        aggregations: Aggregations,
        emit: str = "final",
        max_open: int = 1_000_000,
    ):
        if emit not in ("final", "update"):
            raise InvalidArgumentError(f"emit must be 'final' or 'update', not {emit!r}")
        if windowing.kind == "session" and not aggregations.mergeable:
            names = [a.name for a in aggregations.aggs if a.custom and a.custom.merge is None]
            raise InvalidArgumentError(
                f"session windows merge, so the Custom aggregation(s) {', '.join(names)} need "
                "merge=(a, b) -> accumulator"
            )
        if isinstance(max_open, bool) or not isinstance(max_open, int) or max_open < 1:
            raise InvalidArgumentError(f"max_open must be a positive integer, not {max_open!r}")
        self.windowing = windowing
        self.aggregations = aggregations
        self.emit = emit
        self.max_open = max_open
        self._watermark = MIN_WATERMARK
        self._open = 0
        # tumbling, hopping: start -> key -> state, and a heap of the starts
        self._by_start: dict[int, dict[Any, State]] = {}
        self._starts: list[int] = []
        # session: key -> [[first, last, state], ...] sorted by first; heap of (end, seq, key)
        self._sessions: dict[Any, list[list[Any]]] = {}
        self._ends: list[tuple[int, int, Any]] = []
        self._seq = 0
        # sliding: each key's buffered records
        self._sliding = SlidingWindows(windowing.size_ms, aggregations)
        if windowing.kind == "tumbling":
            self.add = self._tumbling_adder()
        elif windowing.kind == "hopping":
            self.add = self._add_hopping
        elif windowing.kind == "sliding":
            self.add = self._add_sliding
        else:
            self.add = self._add_session

    @property
    def watermark(self) -> int:
        """The highest watermark ``advance`` was given (``-2**63`` before the first)."""
        return self._watermark

    @property
    def open_windows(self) -> int:
        """Windows (sessions) holding state, for metrics; for sliding windows, the records
        held (each makes up to two windows)."""
        return self._sliding.records if self.windowing.kind == "sliding" else self._open

    @property
    def open_keys(self) -> int:
        """Distinct keys with an open window, for metrics (counted on each call)."""
        if self.windowing.kind == "session":
            return len(self._sessions)
        if self.windowing.kind == "sliding":
            return len(self._sliding.buffers)
        seen: set[Any] = set()
        for by_key in self._by_start.values():
            seen.update(by_key)
        return len(seen)

    def _full(self) -> WindowStateFullError:
        return WindowStateFullError(
            f"cannot open another window: {self.open_windows} are open of at most "
            f"max_open={self.max_open}; raise max_open if memory allows, or use a coarser key, "
            "a shorter window or less grace"
        )

    def _late(self, key: Any, t: int, end: int) -> Late:
        return Late(
            key,
            t,
            self._watermark,
            f"the window ending at {end} closed at watermark {self._watermark}",
        )

    # tumbling and hopping

    def _tumbling_adder(self) -> Callable[[Any, int, Any], AddResult]:
        size = self.windowing.size_ms
        by_start = self._by_start
        agg_add = self.aggregations.add
        update = self.emit == "update"

        def add(key: Any, t: int, value: Any) -> AddResult:
            start = t - t % size
            if start + size <= self._watermark:
                return (), self._late(key, t, start + size)
            window = by_start.get(start)
            if window is None:
                window = self._new_start(start)
            state = window.get(key)
            if state is None:
                # added to before it is stored: a refused record leaves no empty window
                state = self._new_state()
                agg_add(state, value, t)
                window[key] = state
                self._open += 1
            else:
                agg_add(state, value, t)
            if update:
                results = self.aggregations.results(state)
                return [WindowResult(key, start, start + size, results, False)], None
            return (), None

        return add

    def _new_start(self, start: int) -> dict[Any, State]:
        window: dict[Any, State] = {}
        self._by_start[start] = window
        heapq.heappush(self._starts, start)
        return window

    def _new_state(self) -> State:
        if self._open >= self.max_open:
            raise self._full()
        return self.aggregations.initial()

    def _add_hopping(self, key: Any, t: int, value: Any) -> AddResult:
        size, step = self.windowing.size_ms, self.windowing.step_ms
        last = t - t % step
        if last + size <= self._watermark:
            return (), self._late(key, t, last + size)
        # the open windows holding t, oldest first
        starts = [
            s for s in range(last - size + step, last + 1, step) if s + size > self._watermark
        ]
        by_start = self._by_start
        missing = sum(1 for s in starts if key not in by_start.get(s, ()))
        if missing and self._open + missing > self.max_open:
            raise self._full()
        aggs = self.aggregations
        if aggs.custom:
            # a Custom reduce may fail on one window's accumulator: try the record on a
            # scratch state first so a failure changes no window
            aggs.add(aggs.initial(), value, t)
        states: list[State] = []
        created: list[int] = []
        for start in starts:
            window = by_start.get(start)
            if window is None:
                window = self._new_start(start)
            state = window.get(key)
            if state is None:
                state = window[key] = aggs.initial()
                created.append(start)
            states.append(state)
        self._open += len(created)
        try:
            for state in states:
                aggs.add(state, value, t)
        except Exception:
            # built-in aggregations check the record before changing a state, so only the
            # first add can fail and nothing changed: drop the windows made for it
            for start in created:
                del by_start[start][key]
            self._open -= len(created)
            raise
        if self.emit == "update":
            results = self.aggregations.results
            return [
                WindowResult(key, s, s + size, results(st), False)
                for s, st in zip(starts, states, strict=True)
            ], None
        return (), None

    # session

    def _add_session(self, key: Any, t: int, value: Any) -> AddResult:
        gap = self.windowing.size_ms
        sessions = self._sessions.get(key)
        if sessions is None:
            sessions = []
        # sessions whose [first, last + gap) overlaps the record's own [t, t + gap)
        hit = [s for s in sessions if s[0] - gap < t < s[1] + gap]
        if not hit and t + gap <= self._watermark:
            return (), self._late(key, t, t + gap)
        if not hit and self._open >= self.max_open:
            raise self._full()
        state = self.aggregations.initial()
        self.aggregations.add(state, value, t)
        first, last = t, t
        if hit:
            merged = hit[0][2]
            for s in hit[1:]:
                merged = self.aggregations.merge(merged, s[2])
            state = self.aggregations.merge(merged, state)
            first, last = min(hit[0][0], t), max(hit[-1][1], t)
            sessions = [s for s in sessions if s not in hit]
        self._open += 1 - len(hit)
        session = [first, last, state]
        sessions.append(session)
        sessions.sort(key=lambda s: s[0])
        self._sessions[key] = sessions
        self._seq += 1
        heapq.heappush(self._ends, (last + gap, self._seq, key))
        if self.emit == "update":
            values = self.aggregations.results(state)
            return [WindowResult(key, first, last + gap, values, False)], None
        return (), None

    # sliding

    def _add_sliding(self, key: Any, t: int, value: Any) -> AddResult:
        aggs, sliding, size = self.aggregations, self._sliding, self.windowing.size_ms
        aggs.add(aggs.initial(), value, t)  # a bad record is refused before it is buffered
        if sliding.records >= self.max_open:
            raise self._full()
        buffer, entry = sliding.insert(key, t, value)
        starts = sliding.starts_holding(buffer, t)
        open_starts = sorted(s for s in starts if s + size >= self._watermark)
        if not open_starts:
            sliding.remove(key, entry)
            return (), self._late(key, t, max(starts) + size)
        if self.emit == "update":
            right = sliding.right_window(buffer, t)
            if right is not None:
                open_starts.append(right)
            results = aggs.results
            return [
                WindowResult(key, s, s + size, results(sliding.fold(buffer, s)), False)
                for s in open_starts
            ], None
        return (), None

    def _close_sliding(self, before: int, watermark: int) -> list[WindowResult]:
        sliding, size, results = self._sliding, self.windowing.size_ms, self.aggregations.results
        out = []
        for key, buffer in sliding.buffers.items():
            for s in sliding.all_starts(buffer):
                if before <= s + size < watermark:
                    out.append(
                        WindowResult(key, s, s + size, results(sliding.fold(buffer, s)), True)
                    )
        sliding.expire(watermark)
        out.sort(key=lambda r: (r.end, r.start, repr(r.key)))
        return out

    # closing

    def advance(self, watermark_ms: int) -> list[WindowResult]:
        """Raise the watermark (a lower one is ignored) and return the final result of every
        window with ``end <= watermark``, ordered by (end, start, repr(key))."""
        if watermark_ms <= self._watermark:
            return []
        before, self._watermark = self._watermark, watermark_ms
        if self.windowing.kind == "sliding":  # inclusive ends: closed once end < watermark
            return self._close_sliding(before, watermark_ms)
        results = self.aggregations.results
        out: list[WindowResult] = []
        if self.windowing.kind == "session":
            gap = self.windowing.size_ms
            closing: set[Any] = set()
            while self._ends and self._ends[0][0] <= watermark_ms:
                closing.add(heapq.heappop(self._ends)[2])
            for key in closing:
                sessions = self._sessions.get(key, [])
                keep = []
                for first, last, state in sessions:
                    if last + gap <= watermark_ms:
                        out.append(WindowResult(key, first, last + gap, results(state), True))
                    else:
                        keep.append([first, last, state])
                self._open -= len(sessions) - len(keep)
                if keep:
                    self._sessions[key] = keep
                else:
                    self._sessions.pop(key, None)
            out.sort(key=lambda r: (r.end, r.start, repr(r.key)))
            return out
        size = self.windowing.size_ms
        while self._starts and self._starts[0] + size <= watermark_ms:
            start = heapq.heappop(self._starts)
            window = self._by_start.pop(start)
            self._open -= len(window)
            for key in sorted(window, key=repr):
                out.append(WindowResult(key, start, start + size, results(window[key]), True))
        return out

    # snapshots

    def snapshot(self) -> dict[str, Any]:
        """The watermark and every open window with its state, JSON-serialisable (keys as
        ``keys.encode`` writes them; for sliding windows, the buffered records, whose values
        must then be JSON-serialisable)."""
        to_json = self.aggregations.to_json
        windows: list[list[Any]] = []
        if self.windowing.kind == "sliding":
            for key, buffer in self._sliding.buffers.items():
                windows += [[keys.encode(key), t, seq, value] for t, seq, value in buffer]
        elif self.windowing.kind == "session":
            for key, sessions in self._sessions.items():
                for first, last, state in sessions:
                    windows.append([keys.encode(key), first, last, to_json(state)])
        else:
            for start, window in self._by_start.items():
                for key, state in window.items():
                    windows.append([keys.encode(key), start, to_json(state)])
        return {
            "version": _SNAPSHOT_VERSION,
            "windowing": self.windowing.to_json(),
            "aggregations": self.aggregations.names,
            "watermark": self._watermark,
            "windows": windows,
        }

    @classmethod
    def restore(
        cls,
        windowing: Windowing,
        aggregations: Aggregations,
        emit: str,
        snapshot: dict[str, Any],
        max_open: int = 1_000_000,
    ) -> WindowEngine:
        """An engine in the state ``snapshot()`` described; the windowing and aggregation
        names must be the ones the snapshot was taken with."""
        if not isinstance(snapshot, dict) or snapshot.get("version") != _SNAPSHOT_VERSION:
            raise InvalidArgumentError("not a window engine snapshot (or of another version)")
        if snapshot["windowing"] != windowing.to_json():
            raise InvalidArgumentError(
                f"the snapshot was taken with windowing {snapshot['windowing']}, not "
                f"{windowing.to_json()}: restore with the same windowing"
            )
        if snapshot["aggregations"] != aggregations.names:
            raise InvalidArgumentError(
                f"the snapshot was taken with aggregations {snapshot['aggregations']}, not "
                f"{aggregations.names}: restore with the same aggregations"
            )
        engine = cls(windowing, aggregations, emit, max_open)
        engine._watermark = int(snapshot["watermark"])
        from_json = aggregations.from_json
        if windowing.kind == "sliding":
            for encoded, t, seq, value in snapshot["windows"]:
                engine._sliding.restore(keys.decode(encoded), t, seq, value)
            for buffer in engine._sliding.buffers.values():
                buffer.sort(key=lambda e: (e[0], e[1]))
        elif windowing.kind == "session":
            gap = windowing.size_ms
            for encoded, first, last, state in snapshot["windows"]:
                key = keys.decode(encoded)
                engine._sessions.setdefault(key, []).append([first, last, from_json(state)])
                engine._seq += 1
                heapq.heappush(engine._ends, (last + gap, engine._seq, key))
            for sessions in engine._sessions.values():
                sessions.sort(key=lambda s: s[0])
        else:
            for encoded, start, state in snapshot["windows"]:
                window = engine._by_start.get(start)
                if window is None:
                    window = engine._new_start(start)
                window[keys.decode(encoded)] = from_json(state)
        engine._open = len(snapshot["windows"])
        return engine
