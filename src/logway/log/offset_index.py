"""Sparse offset index of a segment: ``(relative offset int32, position int32)``
entries, one per ``index_interval_bytes`` of log data, as Kafka's ``OffsetIndex``.

The file is a cache: when it is missing or disagrees with the log it is rebuilt
from the log (``Segment.rebuild_indexes``).
"""

from __future__ import annotations

import bisect
import struct
from array import array

from logway.log.sparse_index import SparseIndex


class OffsetIndex(SparseIndex):
    ENTRY = struct.Struct(">ii")

    @property
    def offsets(self) -> array[int]:
        return self.keys

    @property
    def positions(self) -> array[int]:
        return self.values

    def _pack(self, key: int, value: int) -> bytes:
        return self.ENTRY.pack(key - self.base_offset, value)

    def _unpack(self, raw: tuple[int, int]) -> tuple[int, int]:
        return self.base_offset + raw[0], raw[1]

    def load(self, log_size: int, next_offset: int) -> bool:
        """Read the file; ``False`` if it is missing or inconsistent with the log."""
        entries = self._read()
        if entries is None:
            return False
        last_offset, last_pos = -1, -1
        for offset, pos in entries:
            if offset <= last_offset or pos <= last_pos or pos >= log_size or offset >= next_offset:
                return False
            last_offset, last_pos = offset, pos
        self._set(entries)
        return True

    def append(self, offset: int, position: int) -> None:
        self._append(offset, position)

    def lookup(self, offset: int) -> tuple[int, int]:
        """``(base offset, position)`` of the last indexed batch starting at or before
        ``offset``; the segment's start when there is none."""
        i = bisect.bisect_right(self.keys, offset) - 1
        return (self.keys[i], self.values[i]) if i >= 0 else (self.base_offset, 0)
