"""Backup and restore of a 1 GB topic (embedded backend, a local directory), against the
disk's own sequential bandwidth measured in the same run, in the same directory.

- disk: write a file of the topic's size in 8 MiB chunks and fsync it (as an object of
  the backup is put), then read it back with its pages dropped from the page cache;
  the *copy* reference is the two together, bytes / (write time + read time): what
  moving those bytes from one file to another costs on this disk, the least work a
  backup (read the log, write objects) or a restore (read objects, write the log) does;
- backup: ``logway.backup.backup()`` of a topic of 1 KiB records (produced in batches of
  ``BATCH``, fsync=always) into a directory beside it, objects of 64 MiB, with the
  segments dropped from the page cache first;
- restore: ``logway.backup.restore()`` of that backup into a new topic (fsync=always),
  with the objects dropped from the page cache first; every SHA-256 and CRC checked.

Figures are bytes of the topic's segment files per second.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from dataclasses import dataclass

import logway
from common import BATCH, Throughput, fsync_dir, log_bytes, make_values, open_append, write_all
from logway.backup import backup, restore

TOPIC = "bench"
CHUNK = 8 << 20  # bytes per write of the disk reference


def drop_cache(root: str) -> None:
    """Drop every regular file under ``root`` from the page cache (their pages are clean:
    written and synced), so the next read comes from the disk. Other entries (a socket
    a broker listens on, say) hold no pages and cannot be opened for reading."""
    for parent, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(parent, name)
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fdatasync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def disk_write(path: str, nbytes: int) -> float:
    """Seconds to write ``nbytes`` to a new file in chunks and fsync it once."""
    chunk = os.urandom(CHUNK)
    fd = open_append(path)
    try:
        fsync_dir(os.path.dirname(path))
        start = time.perf_counter()
        for _ in range(nbytes // CHUNK):
            write_all(fd, chunk)
        write_all(fd, chunk[: nbytes % CHUNK])
        os.fsync(fd)
        return time.perf_counter() - start
    finally:
        os.close(fd)


def disk_read(path: str) -> float:
    """Seconds to read a file whose pages were dropped from the page cache."""
    drop_cache(os.path.dirname(path))
    fd = os.open(path, os.O_RDONLY)
    try:
        start = time.perf_counter()
        while os.read(fd, CHUNK):
            pass
        return time.perf_counter() - start
    finally:
        os.close(fd)


@dataclass
class BackupFigures:
    backup: Throughput
    restore: Throughput
    disk_write: Throughput
    disk_read: Throughput
    objects: int

    @property
    def disk_copy(self) -> Throughput:
        """Write then read the same bytes: one repetition's times added."""
        runs = [w + r for w, r in zip(self.disk_write.runs, self.disk_read.runs, strict=True)]
        return Throughput(self.disk_write.records, self.disk_write.nbytes, runs)

    def to_json(self) -> dict[str, object]:
        return {
            "backup": self.backup.to_json(),
            "restore": self.restore.to_json(),
            "disk_write_fsync": self.disk_write.to_json(),
            "disk_read": self.disk_read.to_json(),
            "disk_copy": self.disk_copy.to_json(),
            "objects": self.objects,
        }


def measure_backup(root: str, records: int, size: int, repetitions: int) -> BackupFigures:
    """Per repetition, in a fresh directory under ``root``: produce the topic, time its
    backup and its restore, then the disk's write and read of as many bytes."""
    values = make_values(size)
    backups: list[float] = []
    restores: list[float] = []
    writes: list[float] = []
    reads: list[float] = []
    stored = objects = 0
    for rep in range(repetitions):
        base = os.path.join(root, f"backup-{rep}")
        data, dest = os.path.join(base, "data"), os.path.join(base, "objects")
        os.makedirs(base)
        with logway.connect(f"file:{data}") as broker:
            broker.create_topic(TOPIC, retention_ms=-1)
            for _ in range(records // BATCH):
                broker.produce_many(TOPIC, values)
            stored = log_bytes(data)
            drop_cache(data)
            start = time.perf_counter()
            result = backup(broker, TOPIC, dest)
            backups.append(time.perf_counter() - start)
            objects = len(result.objects)
            drop_cache(dest)
            start = time.perf_counter()
            restored = restore(broker, dest, f"{TOPIC}-restored")
            restores.append(time.perf_counter() - start)
            assert restored.records == records, restored
            assert broker.end_offsets(f"{TOPIC}-restored") == broker.end_offsets(TOPIC)
        shutil.rmtree(base)
        os.makedirs(base)
        path = os.path.join(base, "disk.bin")
        writes.append(disk_write(path, stored))
        reads.append(disk_read(path))
        shutil.rmtree(base)
    return BackupFigures(
        Throughput(records, stored, backups),
        Throughput(records, stored, restores),
        Throughput(records, stored, writes),
        Throughput(records, stored, reads),
        objects,
    )


if __name__ == "__main__":  # a quick look at this section alone
    import argparse

    from common import REPETITIONS, scratch_dir

    parser = argparse.ArgumentParser(description="backup and restore against the disk")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repetitions", type=int, default=REPETITIONS)
    args = parser.parse_args()
    with scratch_dir("backup") as scratch:
        f = measure_backup(scratch, args.records, 1024, args.repetitions)
    copy, write = f.disk_copy.bytes_per_s, f.disk_write.bytes_per_s
    for name, t in (("backup", f.backup), ("restore", f.restore)):
        print(
            f"{name}: {t.bytes_per_s / 1e6:,.0f} MB/s, {t.best:.2f} s; vs disk copy "
            f"{t.bytes_per_s / copy:.2f}, vs write+fsync {t.bytes_per_s / write:.2f}"
        )
    print(
        f"disk: write+fsync {write / 1e6:,.0f} MB/s, read {f.disk_read.bytes_per_s / 1e6:,.0f} "
        f"MB/s, copy {copy / 1e6:,.0f} MB/s; {f.backup.nbytes / 1e6:,.0f} MB, {f.objects} objects"
    )
