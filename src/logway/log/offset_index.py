"""Sparse offset index of a segment: ``(relative offset int32, position int32)``
entries, one per ``index_interval_bytes`` of log data, as Kafka's ``OffsetIndex``.

Entries are kept in memory for lookups and appended to the ``.index`` file.
The file is a cache: when it is missing or disagrees with the log it is rebuilt
from the log (``Segment.rebuild_indexes``).
"""

from __future__ import annotations

import bisect
import os
import struct
from array import array

_ENTRY = struct.Struct(">ii")


class OffsetIndex:
    def __init__(self, path: str, base_offset: int):
        self.path = path
        self.base_offset = base_offset
        self.offsets = array("q")
        self.positions = array("q")
        self._fd = -1

    def load(self, log_size: int, next_offset: int) -> bool:
        """Read the file; ``False`` if it is missing or inconsistent with the log."""
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return False
        if len(data) % _ENTRY.size:
            return False
        offsets, positions = array("q"), array("q")
        last_offset, last_pos = -1, -1
        for rel, pos in _ENTRY.iter_unpack(data):
            offset = self.base_offset + rel
            if offset <= last_offset or pos <= last_pos or pos >= log_size or offset >= next_offset:
                return False
            offsets.append(offset)
            positions.append(pos)
            last_offset, last_pos = offset, pos
        self.offsets, self.positions = offsets, positions
        return True

    def open_for_append(self) -> None:
        if self._fd < 0:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def append(self, offset: int, position: int) -> None:
        self.offsets.append(offset)
        self.positions.append(position)
        if self._fd >= 0:
            os.write(self._fd, _ENTRY.pack(offset - self.base_offset, position))

    def lookup(self, offset: int) -> tuple[int, int]:
        """``(base offset, position)`` of the last indexed batch starting at or before
        ``offset``; the segment's start when there is none."""
        i = bisect.bisect_right(self.offsets, offset) - 1
        return (self.offsets[i], self.positions[i]) if i >= 0 else (self.base_offset, 0)

    def rewrite(self, entries: list[tuple[int, int]]) -> None:
        """Replace the whole index (after a rebuild or a truncation)."""
        self.close()
        self.offsets = array("q", (o for o, _ in entries))
        self.positions = array("q", (p for _, p in entries))
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"".join(_ENTRY.pack(o - self.base_offset, p) for o, p in entries))
        os.replace(tmp, self.path)

    def flush(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
