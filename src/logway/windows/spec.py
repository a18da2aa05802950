"""How records are grouped into windows of event time: ``Windowing``.

The kinds and their alignment follow Flink SQL's window table functions and Kafka Streams:

- ``tumbling``: ``[k * size, (k + 1) * size)``, aligned to the epoch (Flink ``TUMBLE``).
- ``hopping``: windows of ``size`` starting at every multiple of ``step`` (Flink ``HOP``);
  ``size`` must be a multiple of ``step``, as Flink's window aggregation requires ("HOP table
  function based aggregate requires size must be an integral multiple of slide"), so every
  record lands in exactly ``size / step`` windows.
- ``sliding``: Kafka Streams' ``SlidingWindows``: records within ``size`` of each other; each
  record ``t`` defines the window ``[t - size, t]`` (both ends inclusive).
- ``session``: Flink ``SESSION`` / Kafka Streams session windows: records of a key less than
  ``gap`` apart form one session ``[first, last + gap)``; a record bridging two sessions
  merges them.

``grace`` is the allowed lateness: the caller's watermark is max event time - grace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from logway.errors import InvalidArgumentError
from logway.units import parse_duration_ms

KINDS = ("tumbling", "hopping", "sliding", "session")


@dataclass(frozen=True)
class Windowing:
    """Window kind and durations in milliseconds; build one with ``Windowing.build``."""

    kind: str  # "tumbling" | "hopping" | "sliding" | "session"
    size_ms: int  # tumbling/hopping: window size; sliding: the duration; session: the gap
    step_ms: int  # hopping: the step (size_ms for tumbling; 0 for sliding and session)
    grace_ms: int = 0  # allowed lateness: the watermark is max event time - grace

    def __post_init__(self) -> None:
        step_ok = {
            "tumbling": self.step_ms == self.size_ms,
            "hopping": 0 < self.step_ms <= self.size_ms
            and self.size_ms % max(self.step_ms, 1) == 0,
        }.get(self.kind, self.step_ms == 0)
        if self.kind not in KINDS or self.size_ms <= 0 or self.grace_ms < 0 or not step_ok:
            raise InvalidArgumentError(
                f"not a valid windowing: {self!r}; build one with Windowing.build(tumbling='1m'), "
                "hopping=(size, step), sliding= or session="
            )

    @classmethod
    def build(
        cls,
        *,
        tumbling: Any = None,
        hopping: Any = None,
        sliding: Any = None,
        session: Any = None,
        grace: Any = 0,
    ) -> Windowing:
        """Exactly one of the four kinds; durations as ``parse_duration_ms`` takes them
        (``"5s"``, ``"1m"``, a number of ms); ``hopping=(size, step)``."""
        given = {
            k: v
            for k, v in (
                ("tumbling", tumbling),
                ("hopping", hopping),
                ("sliding", sliding),
                ("session", session),
            )
            if v is not None
        }
        if len(given) != 1:
            raise InvalidArgumentError(
                "give exactly one of tumbling=, hopping=, sliding= or session= "
                f"(got {', '.join(given) or 'none'})"
            )
        grace_ms = parse_duration_ms(grace, "grace")
        kind, value = next(iter(given.items()))
        if kind == "hopping":
            if not isinstance(value, tuple | list) or len(value) != 2:
                raise InvalidArgumentError(
                    f"hopping must be (size, step) such as ('1m', '10s'), not {value!r}"
                )
            size = _positive(value[0], "hopping size")
            step = _positive(value[1], "hopping step")
            if step > size or size % step:
                raise InvalidArgumentError(
                    f"hopping size ({size} ms) must be a multiple of the step ({step} ms), "
                    "as in Flink's HOP aggregation: pick a step that divides the size"
                )
            return cls("hopping", size, step, grace_ms)
        size = _positive(value, "session gap" if kind == "session" else kind)
        return cls(kind, size, size if kind == "tumbling" else 0, grace_ms)

    def to_json(self) -> dict[str, Any]:
        """The fields as a JSON object (kept in snapshots to check a restore matches)."""
        return {
            "kind": self.kind,
            "size_ms": self.size_ms,
            "step_ms": self.step_ms,
            "grace_ms": self.grace_ms,
        }


def _positive(value: Any, name: str) -> int:
    ms = parse_duration_ms(value, name)
    if ms <= 0:
        raise InvalidArgumentError(
            f"{name} must be a positive duration such as '1m', not {value!r}"
        )
    return ms
