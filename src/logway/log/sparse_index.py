"""What the offset and time indexes share: a file of fixed-size big-endian entries,
mirrored in two in-memory arrays, appended one entry at a time and replaced
whole (atomically) after a rebuild."""

from __future__ import annotations

import os
import struct
from array import array


class SparseIndex:
    ENTRY: struct.Struct  # set by subclasses

    def __init__(self, path: str, base_offset: int):
        self.path = path
        self.base_offset = base_offset
        self.keys = array("q")  # the searched column
        self.values = array("q")
        self._fd = -1
        self._broken = False  # the disk refused an entry: stop writing until rewritten

    def _pack(self, key: int, value: int) -> bytes:
        raise NotImplementedError

    def _unpack(self, raw: tuple[int, int]) -> tuple[int, int]:
        raise NotImplementedError

    def _read(self) -> list[tuple[int, int]] | None:
        """The file's ``(key, value)`` entries, or None when missing or not whole entries."""
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        if len(data) % self.ENTRY.size:
            return None
        return [self._unpack(raw) for raw in self.ENTRY.iter_unpack(data)]

    def _set(self, entries: list[tuple[int, int]]) -> None:
        self.keys = array("q", (k for k, _ in entries))
        self.values = array("q", (v for _, v in entries))

    def open_for_append(self) -> None:
        if self._fd < 0 and not self._broken:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def _append(self, key: int, value: int) -> None:
        """Add an entry. The file is a cache of the log: if the disk refuses the entry,
        the file stops growing (a shorter index is still a correct one, and a torn
        entry makes the next open rebuild it) and the append it belongs to stands."""
        self.keys.append(key)
        self.values.append(value)
        if self._fd >= 0:
            try:
                os.write(self._fd, self._pack(key, value))
            except OSError:
                self.close()
                self._broken = True

    def rewrite(self, entries: list[tuple[int, int]]) -> None:
        """Replace the whole index with ``(key, value)`` entries (after a rebuild)."""
        self.close()
        self._set(entries)
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b"".join(self._pack(k, v) for k, v in entries))
        os.replace(tmp, self.path)
        self._broken = False

    def flush(self) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
