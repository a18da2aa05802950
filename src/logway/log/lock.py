"""One process owns a data directory at a time: an exclusive ``flock`` on
``<data>/.lock``. The file holds the owner's pid (for messages) and, on a second
line, the address where the owner serves the directory to other processes (for
them to connect to instead of failing). The kernel drops the lock when the owner
dies, so a crash never leaves the directory stuck.
"""

from __future__ import annotations

import fcntl
import os

from logway.errors import DataDirLockedError


def read_owner(directory: str) -> tuple[str, str]:
    """The pid and advertised address in a directory's lock file ("" when absent).
    Only meaningful while the lock is held: a dead owner's lines may linger."""
    try:
        with open(os.path.join(directory, ".lock"), "rb") as f:
            lines = f.read(4096).decode(errors="replace").splitlines()
    except FileNotFoundError:
        return "", ""
    pid = lines[0].strip() if lines else ""
    address = lines[1].strip() if len(lines) > 1 else ""
    return pid, address


class DirectoryLock:
    """Owns ``directory``; ``address`` (if any) is where this process will serve it."""

    def __init__(self, directory: str, address: str = ""):
        self.path = os.path.join(directory, ".lock")
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = -1
            owner, address = read_owner(directory)
            owner = owner or "unknown"
            same = " (this process)" if owner == str(os.getpid()) else ""
            raise DataDirLockedError(
                f"data directory {directory} is in use by process {owner}{same}; one process "
                "owns a directory at a time: stop that process, or share the log through "
                "'logway serve' and connect with logway://",
                owner=owner,
                address=address,
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n{address}\n".encode(), 0)

    def release(self) -> None:
        if self._fd >= 0:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = -1
