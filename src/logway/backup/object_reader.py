"""Reading a backup's objects for a restore, each once and whole.

An object in a local directory is read into a buffer that is used again for a later
object once the restore is done with it (written and hashed), and its pages are
dropped from the page cache as soon as it is read. So a restore goes over the same
memory again and again, rather than new memory for every object and a page cache
filled with objects nobody reads twice: the pages it frees are those the log's writes
take next. (Touching fresh memory is far from free: on a virtual machine whose host
backs guest memory lazily it costs more than copying the data.) An S3 object is read
through the store, into memory of its own.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from logway.backup.manifest import BackupObject
from logway.errors import CorruptRecordError, StorageError
from logway.objectstore import ObjectMissingError, ObjectStore


@dataclass
class Read:
    """An object's bytes, and the buffer they are in (to hand back with ``release``)."""

    data: memoryview
    buffer: bytearray | None = None


class ObjectReader:
    """Reads objects of ``store``; safe to use from several threads."""

    def __init__(self, store: ObjectStore):
        self.store = store
        self._free: list[bytearray] = []
        self._lock = threading.Lock()

    def read(self, obj: BackupObject) -> Read:
        """The object whole; ``CorruptRecordError`` naming it if it is missing."""
        uri = self.store.uri(obj.path)
        try:
            if self.store.scheme == "file":
                return self._read_file(self.store.full_path(obj.path), obj.bytes)
            return Read(self.store.get_view(obj.path))
        except (ObjectMissingError, FileNotFoundError):
            raise CorruptRecordError(
                f"backup object {uri} is missing (the manifest lists it)", path=uri
            ) from None
        except OSError as exc:
            raise StorageError(f"could not read {uri}: {exc.strerror or exc}") from exc

    def release(self, read: Read) -> None:
        """Done with ``read``: its buffer may hold another object now."""
        if read.buffer is not None:
            with self._lock:
                self._free.append(read.buffer)

    def _read_file(self, path: str, expected: int) -> Read:
        with open(path, "rb", buffering=0) as f:
            # a byte more than expected shows an object too long, without reading it all
            size = min(os.fstat(f.fileno()).st_size, expected + 1)
            buffer = self._buffer(size)
            view = memoryview(buffer)
            n = 0
            while n < size:
                got = f.readinto(view[n:size])
                if not got:
                    break  # shorter than when it was looked at: the checks say so
                n += got
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        return Read(view[:n], buffer)

    def _buffer(self, size: int) -> bytearray:
        """A free buffer of at least ``size`` bytes, else a new one."""
        with self._lock:
            for i, buffer in enumerate(self._free):
                if len(buffer) >= size:
                    return self._free.pop(i)
            if self._free:
                self._free.pop()  # too small: a new one takes its place
        return bytearray(size)
