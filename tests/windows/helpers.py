"""Feeding records to a WindowEngine and collecting what it returns."""

from __future__ import annotations

from typing import Any

from logway.windows import Late, WindowEngine, WindowResult


def run(
    engine: WindowEngine, events: list[tuple[Any, int, Any]], grace: int = 0
) -> tuple[list[WindowResult], list[Late]]:
    """Add each (key, t, value), advancing the watermark to max t - grace after each;
    then close everything. Returns the final results and the late records."""
    finals: list[WindowResult] = []
    late: list[Late] = []
    high = -(2**62)
    for key, t, value in events:
        _, lt = engine.add(key, t, value)
        if lt is not None:
            late.append(lt)
        high = max(high, t)
        finals += engine.advance(high - grace)
    finals += engine.advance(2**62)
    return finals, late


def table(results: list[WindowResult]) -> list[tuple[Any, int, int, dict[str, Any]]]:
    return [(r.key, r.start, r.end, r.values) for r in results]
