"""One process owns a data directory at a time: an exclusive ``flock`` on
``<data>/.lock``, which holds the owner's pid for the error message. The kernel
drops the lock when the owner dies, so a crash never leaves the directory stuck.
"""

from __future__ import annotations

import fcntl
import os

from logway.errors import DataDirLockedError


class DirectoryLock:
    def __init__(self, directory: str):
        self.path = os.path.join(directory, ".lock")
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            self._fd = -1
            same = " (this process)" if owner == str(os.getpid()) else ""
            raise DataDirLockedError(
                f"data directory {directory} is in use by process {owner}{same}; one process "
                "owns a directory at a time: stop that process, or share the log through "
                "'logway serve' and connect with logway://"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd >= 0:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = -1
