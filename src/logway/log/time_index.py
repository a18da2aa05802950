"""Sparse time index of a segment: ``(max timestamp so far int64, relative offset int32)``
entries, as Kafka's ``TimeIndex``. An entry ``(t, o)`` means every record with an
offset below ``o`` has a timestamp <= ``t``, so a search for the first record with
timestamp >= T may start at offset ``o`` of the last entry with ``t < T``. When a
segment is closed its last entry carries the segment's max timestamp, which is
how retention by time knows a segment's age without reading it.
"""

from __future__ import annotations

import bisect
import struct
from array import array

from logway.log.sparse_index import SparseIndex


class TimeIndex(SparseIndex):
    ENTRY = struct.Struct(">qi")

    @property
    def timestamps(self) -> array[int]:
        return self.keys

    @property
    def offsets(self) -> array[int]:
        return self.values

    def _pack(self, key: int, value: int) -> bytes:
        return self.ENTRY.pack(key, value - self.base_offset)

    def _unpack(self, raw: tuple[int, int]) -> tuple[int, int]:
        return raw[0], self.base_offset + raw[1]

    def load(self, next_offset: int) -> bool:
        entries = self._read()
        if entries is None:
            return False
        for i, (ts, offset) in enumerate(entries):
            if offset > next_offset or (
                i and (ts < entries[i - 1][0] or offset < entries[i - 1][1])
            ):
                return False
        self._set(entries)
        return True

    def maybe_append(self, max_timestamp: int, offset: int) -> None:
        """Add an entry when the segment's max timestamp grew since the last one."""
        if self.keys and max_timestamp <= self.keys[-1]:
            return
        self._append(max_timestamp, offset)

    def append_final(self, max_timestamp: int, end_offset: int) -> None:
        """The closing entry of a sealed segment: its max timestamp at its end offset."""
        if not self.keys or (self.keys[-1], self.values[-1]) != (max_timestamp, end_offset):
            self._append(
                max(max_timestamp, self.keys[-1] if self.keys else max_timestamp), end_offset
            )

    def lookup(self, timestamp: int) -> int:
        """An offset from which to scan for the first record with timestamp >= ``timestamp``."""
        i = bisect.bisect_left(self.keys, timestamp) - 1
        return self.values[i] if i >= 0 else self.base_offset
