"""Windowed aggregation throughput: ``WindowEngine.add`` against a hand-written dict loop.

Both sides aggregate the same 1,000,000 records of 10,000 keys into tumbling 1-minute
windows, count and mean of one field; the dict loop keys a dict by (key, window start) and
keeps [count, sum] per window: the floor a Python windowed count + mean can approach.
Printed: records/s of each and their ratio (target >= 500,000 records/s, ratio >= 0.5).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from logway.windows import WindowEngine, Windowing, compile_aggregations

RECORDS = 1_000_000
KEYS = 10_000
WINDOW_MS = 60_000


@dataclass(frozen=True)
class WindowsFigures:
    """Records per second of the engine and of the dict loop."""

    engine_per_s: float
    dict_loop_per_s: float

    @property
    def ratio(self) -> float:
        return self.engine_per_s / self.dict_loop_per_s

    def to_json(self) -> dict[str, object]:
        return {
            "engine_records_per_s": round(self.engine_per_s),
            "dict_loop_records_per_s": round(self.dict_loop_per_s),
            "ratio": round(self.ratio, 4),
        }


def make_records(count: int = RECORDS, keys: int = KEYS) -> list[tuple[str, int, dict[str, Any]]]:
    """(key, event time ms, value) over about ten minutes, slightly out of order."""
    rng = random.Random(7)
    names = [f"user-{i}" for i in range(keys)]
    step = 600_000 / count
    return [
        (rng.choice(names), int(i * step) + rng.randrange(2_000), {"ms": rng.random() * 100})
        for i in range(count)
    ]


def engine_seconds(records: list[tuple[str, int, dict[str, Any]]]) -> float:
    """Seconds for ``WindowEngine.add`` of every record (results are not closed)."""
    engine = WindowEngine(
        Windowing.build(tumbling="1m"),
        compile_aggregations({"n": "count", "avg": ("mean", "ms")}),
    )
    add = engine.add
    start = time.perf_counter()
    for key, t, value in records:
        add(key, t, value)
    return time.perf_counter() - start


def dict_loop_seconds(records: list[tuple[str, int, dict[str, Any]]]) -> float:
    """Seconds for the reference: a dict of (key, start) -> [count, sum]."""
    windows: dict[tuple[str, int], list[Any]] = {}
    get = windows.get
    start = time.perf_counter()
    for key, t, value in records:
        k = (key, t - t % WINDOW_MS)
        state = get(k)
        if state is None:
            state = windows[k] = [0, 0.0]
        state[0] += 1
        state[1] += value["ms"]
    elapsed = time.perf_counter() - start
    assert sum(s[0] for s in windows.values()) == len(records)
    return elapsed


def measure_windows(rounds: int = 3) -> WindowsFigures:
    """Best of ``rounds`` of each side, interleaved so both see the same machine."""
    records = make_records()
    engine, loop = [], []
    for _ in range(rounds):
        engine.append(engine_seconds(records))
        loop.append(dict_loop_seconds(records))
    return WindowsFigures(len(records) / min(engine), len(records) / min(loop))


if __name__ == "__main__":
    figures = measure_windows()
    print(
        f"engine.add {figures.engine_per_s:,.0f} records/s (target >= 500,000), dict loop "
        f"{figures.dict_loop_per_s:,.0f} records/s, ratio {figures.ratio:.3f} (target >= 0.5)"
    )
