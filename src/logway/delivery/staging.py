"""Where a partition's delivery writes objects before it publishes them, so that a run
killed in between leaves nothing behind for good.

On a local disk an object is written to a hidden file, then synced and renamed to its
name when it is published. A delivery keeps those files in a folder of the partition's
own, ``_logway/staging/<group>/<topic>+<partition>/``, each named by the offsets of its
flush (``FIRST+LAST+RANDOM``), so that a later run knows whose they are and whether
one could still be published. A flush publishes all its objects before it commits
its position, so a staged file whose flush ends below the committed position will
never be published: its run either published the flush or was killed, and a later
run delivered those offsets again under the same names. Such files are removed when
a run starts on the partition, and as its commits pass the others; a file of a flush
at or past the committed position is left alone, as a run could still publish it.

On S3 nothing is staged in the bucket: an unpublished object is a buffer in memory,
and an upload is whole or absent.
"""

from __future__ import annotations

import logging
import os
import uuid
from typing import Any

from logway.errors import StorageError
from logway.objectstore import ObjectStore, UnpublishedObject
from logway.records import TopicPartition

log = logging.getLogger("logway.delivery")


class StagedObject(UnpublishedObject):
    """An unpublished object whose hidden file is ``tmp``, in a staging folder rather
    than beside its name (publishing and discarding are the object store's own)."""

    def __init__(self, store: ObjectStore, path: str, tmp: str):
        import pyarrow as pa

        self.store, self.path, self.full = store, path, store.full_path(path)
        self.tmp: str | None = tmp
        self.size = 0
        try:
            os.makedirs(os.path.dirname(self.full), exist_ok=True)
            os.makedirs(os.path.dirname(tmp), exist_ok=True)
            self.stream: Any = pa.OSFile(tmp, "wb")
        except OSError as exc:
            raise StorageError(f"could not write {store.uri(path)}: {exc}") from exc


class Staging:
    """The staging folder of one partition of a delivery (``group``) in ``store``."""

    def __init__(self, store: ObjectStore, group: str, tp: TopicPartition):
        self.store = store
        self.local = store.scheme == "file"
        self.folder = store.full_path(f"_logway/staging/{group}/{tp.topic}+{tp.partition}")
        self._earlier: list[tuple[int, str]] = []  # (last offset, file) of earlier runs

    def unpublished(self, path: str, first: int, last: int) -> UnpublishedObject:
        """An object of the flush of offsets ``first`` to ``last``, to write now and
        publish later."""
        if not self.local:
            return self.store.unpublished(path)
        name = f"{first:020d}+{last:020d}+{uuid.uuid4().hex}"
        return StagedObject(self.store, path, os.path.join(self.folder, name))

    def start(self, position: int) -> None:
        """Before a run's first flush: find what earlier runs staged, and remove what
        lies below the committed ``position``."""
        self._earlier = []
        if not self.local:
            return
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"could not list {self.folder}: {exc}") from exc
        for name in names:
            parts = name.split("+")
            if len(parts) == 3 and parts[1].isdigit():
                self._earlier.append((int(parts[1]), os.path.join(self.folder, name)))
        self._earlier.sort()
        self.committed(position)

    def committed(self, position: int) -> None:
        """The partition's position is now ``position``: remove the files earlier runs
        staged for flushes that end below it."""
        done = 0
        while done < len(self._earlier) and self._earlier[done][0] < position:
            done += 1
        if not done:
            return
        for _, path in self._earlier[:done]:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as exc:  # tried again after the next commit
                log.warning("could not remove %s, which an interrupted run left: %s", path, exc)
                return
            self._earlier.pop(0)
        log.info("removed %d unpublished object(s) interrupted runs left in %s", done, self.folder)
