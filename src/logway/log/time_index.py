"""Sparse time index of a segment: ``(max timestamp so far int64, relative offset int32)``
entries, as Kafka's ``TimeIndex``. An entry ``(t, o)`` means every record with an
offset below ``o`` has a timestamp <= ``t``, so a search for the first record with
timestamp >= T may start at offset ``o`` of the last entry with ``t < T``. When a
segment is closed its last entry carries the segment's max timestamp, which is
how retention by time knows a segment's age without reading it.
"""

from __future__ import annotations

import bisect
import os
import struct
from array import array

_ENTRY = struct.Struct(">qi")


class TimeIndex:
    def __init__(self, path: str, base_offset: int):
        self.path = path
        self.base_offset = base_offset
        self.timestamps = array("q")
        self.offsets = array("q")
        self._fd = -1

    def load(self, next_offset: int) -> bool:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return False
        if len(data) % _ENTRY.size:
            return False
        stamps, offsets = array("q"), array("q")
        for ts, rel in _ENTRY.iter_unpack(data):
            offset = self.base_offset + rel
            if (stamps and (ts < stamps[-1] or offset < offsets[-1])) or offset > next_offset:
                return False
            stamps.append(ts)
            offsets.append(offset)
        self.timestamps, self.offsets = stamps, offsets
        return True

    def open_for_append(self) -> None:
        if self._fd < 0:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def maybe_append(self, max_timestamp: int, offset: int) -> None:
        """Add an entry when the segment's max timestamp grew since the last one."""
        if self.timestamps and max_timestamp <= self.timestamps[-1]:
            return
        self.timestamps.append(max_timestamp)
        self.offsets.append(offset)
        if self._fd >= 0:
            os.write(self._fd, _ENTRY.pack(max_timestamp, offset - self.base_offset))

    def lookup(self, timestamp: int) -> int:
        """An offset from which to scan for the first record with timestamp >= ``timestamp``."""
        i = bisect.bisect_left(self.timestamps, timestamp) - 1
        return self.offsets[i] if i >= 0 else self.base_offset

    def rewrite(self, entries: list[tuple[int, int]]) -> None:
        self.close()
        self.timestamps = array("q", (t for t, _ in entries))
        self.offsets = array("q", (o for _, o in entries))
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"".join(_ENTRY.pack(t, o - self.base_offset) for t, o in entries))
        os.replace(tmp, self.path)

    def flush(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
