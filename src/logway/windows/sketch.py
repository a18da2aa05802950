"""A mergeable quantile sketch with bounded memory: DDSketch-style logarithmic buckets.

Each value ``x`` is counted in bucket ``ceil(log_gamma(|x|))`` with
``gamma = (1 + alpha) / (1 - alpha)``, so any quantile is answered within a relative
error of ``alpha`` (1 % by default) of the exact value at rank ``floor(q * (n - 1))``
(Masson, Rim, Lee: "DDSketch", VLDB 2019). Sketches merge by adding bucket counts, which
session windows need. At most ``max_buckets`` buckets are kept per sign: past that the
lowest buckets are collapsed into one, as DDSketch's collapsing store does, which only
costs accuracy in the lowest quantiles of very wide ranges.
"""

from __future__ import annotations

import math
from typing import Any

DEFAULT_ALPHA = 0.01
DEFAULT_MAX_BUCKETS = 2048
_MIN_VALUE = 1e-9  # |x| below this counts as zero
_NO_FLOOR = -(2**31)


class QuantileSketch:
    """Counts of values in log buckets; ``quantile(q)`` for 0 <= q <= 1."""

    __slots__ = (
        "_floor",
        "_log_gamma",
        "alpha",
        "count",
        "max",
        "max_buckets",
        "min",
        "neg",
        "pos",
        "zero",
    )

    def __init__(self, alpha: float = DEFAULT_ALPHA, max_buckets: int = DEFAULT_MAX_BUCKETS):
        self.alpha = alpha
        self.max_buckets = max_buckets
        self._log_gamma = math.log((1 + alpha) / (1 - alpha))
        self.pos: dict[int, int] = {}
        self.neg: dict[int, int] = {}
        # per sign (pos, neg), the bucket the lowest ones were collapsed into: lower indexes
        # land there
        self._floor = [_NO_FLOOR, _NO_FLOOR]
        self.zero = 0
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    def add(self, x: float) -> None:
        """Count one finite value."""
        self.count += 1
        if x < self.min:
            self.min = x
        if x > self.max:
            self.max = x
        if x > _MIN_VALUE:
            store, side = self.pos, 0
        elif x < -_MIN_VALUE:
            store, side = self.neg, 1
            x = -x
        else:
            self.zero += 1
            return
        index = math.ceil(math.log(x) / self._log_gamma)
        if index < self._floor[side]:
            index = self._floor[side]
        store[index] = store.get(index, 0) + 1
        if len(store) > self.max_buckets:
            self._floor[side] = self._collapse(store)

    def _collapse(self, store: dict[int, int]) -> int:
        """Fold the lowest buckets into one so at most ``max_buckets`` remain; return it."""
        indexes = sorted(store)
        excess = len(indexes) - self.max_buckets
        target = indexes[excess]
        store[target] += sum(store.pop(i) for i in indexes[:excess])
        return target

    def merge(self, other: QuantileSketch) -> QuantileSketch:
        """Add ``other``'s counts into this sketch and return it."""
        for side, mine, theirs in ((0, self.pos, other.pos), (1, self.neg, other.neg)):
            floor = self._floor[side] = max(self._floor[side], other._floor[side])
            for index, n in theirs.items():
                index = max(index, floor)
                mine[index] = mine.get(index, 0) + n
            for index in [i for i in mine if i < floor]:
                mine[floor] = mine.get(floor, 0) + mine.pop(index)
            if len(mine) > self.max_buckets:
                self._floor[side] = self._collapse(mine)
        self.zero += other.zero
        self.count += other.count
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        return self

    def _value(self, index: int) -> float:
        return 2 * math.exp(index * self._log_gamma) / (1 + (1 + self.alpha) / (1 - self.alpha))

    def quantile(self, q: float) -> float | None:
        """The value at rank ``floor(q * (count - 1))`` within ``alpha`` (the exact min and
        max at 0 and 1); None when empty."""
        if self.count == 0:
            return None
        if q <= 0:
            return self.min
        if q >= 1:
            return self.max
        rank = q * (self.count - 1)
        seen = 0
        result: float | None = None
        for index in sorted(self.neg, reverse=True):
            seen += self.neg[index]
            if seen > rank:
                result = -self._value(index)
                break
        if result is None:
            seen += self.zero
            if seen > rank:
                result = 0.0
        if result is None:
            for index in sorted(self.pos):
                seen += self.pos[index]
                if seen > rank:
                    result = self._value(index)
                    break
        if result is None:  # rounding of rank at q == 1
            result = self.max
        return min(max(result, self.min), self.max)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable copy of the counts."""
        return {
            "alpha": self.alpha,
            "max_buckets": self.max_buckets,
            "pos": [[i, n] for i, n in self.pos.items()],
            "neg": [[i, n] for i, n in self.neg.items()],
            "zero": self.zero,
            "floor": list(self._floor),
            "count": self.count,
            "min": self.min if self.count else None,
            "max": self.max if self.count else None,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> QuantileSketch:
        """The sketch ``to_json`` described."""
        sketch = cls(obj["alpha"], obj["max_buckets"])
        sketch.pos = {int(i): int(n) for i, n in obj["pos"]}
        sketch.neg = {int(i): int(n) for i, n in obj["neg"]}
        sketch.zero = int(obj["zero"])
        sketch._floor = [int(f) for f in obj["floor"]]
        sketch.count = int(obj["count"])
        if sketch.count:
            sketch.min = obj["min"]
            sketch.max = obj["max"]
        return sketch
