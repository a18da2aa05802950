"""One segment of a partition: a ``.log`` file of record batches named by its base
offset (20 digits, as Kafka names them) with its ``.index`` and ``.timeindex``.

Appends go to the end of the file only; a batch becomes visible to readers once
it is completely written (``size`` moves after the write). Reads verify every
batch's CRC, so damaged data raises ``CorruptRecordError`` and is never served.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

from logway.errors import CorruptRecordError, StorageError
from logway.log.offset_index import OffsetIndex
from logway.log.time_index import TimeIndex
from logway.recordbatch import codec

SCAN_CHUNK = 1 << 20
IOV_MAX = 1024  # buffers one writev takes (Linux's UIO_MAXIOV)
# a bulk append that is synced at its end starts the disk writing after about this many
# bytes, so that the disk writes while the rest is copied (RocksDB's bytes_per_sync)
WRITEBACK_BYTES = 8 << 20
SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def start_writeback() -> Callable[[int, int, int], bool] | None:
    """``start(fd, offset, nbytes)``: Linux's ``sync_file_range`` with
    ``SYNC_FILE_RANGE_WRITE``, which sends a written range to the disk and returns
    without waiting for it (an fsync still makes it durable, and reports any error);
    True if the range was sent. None where the C library has no such call."""
    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int

    def start(fd: int, offset: int, nbytes: int) -> bool:
        return bool(call(fd, offset, nbytes, SYNC_FILE_RANGE_WRITE) == 0)

    return start


class Placed(NamedTuple):
    """A whole encoded batch and where it goes: its base offset (already in its header),
    the offset after it and its largest timestamp."""

    data: bytes | bytearray | memoryview
    base_offset: int
    next_offset: int
    max_timestamp: int


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}"


class Segment:
    def __init__(self, directory: str, base_offset: int, index_interval_bytes: int = 4096):
        self.directory = directory
        self.base_offset = base_offset
        name = os.path.join(directory, segment_name(base_offset))
        self.path = name + ".log"
        self.offset_index = OffsetIndex(name + ".index", base_offset)
        self.time_index = TimeIndex(name + ".timeindex", base_offset)
        self.index_interval_bytes = index_interval_bytes
        self.next_offset = base_offset
        self.size = 0
        self.max_timestamp = -1
        self.first_batch_timestamp = -1  # drives time-based rolling, as Kafka's segment.ms
        self._bytes_since_index = 0
        self._fd = -1
        self._writable = False
        self.damaged: list[int] = []  # positions of batches that failed their CRC
        self._unflushed = False  # appended since the last fdatasync

    # --- opening ------------------------------------------------------------------

    @classmethod
    def create(cls, directory: str, base_offset: int, index_interval_bytes: int) -> Segment:
        seg = cls(directory, base_offset, index_interval_bytes)
        try:
            seg._fd = os.open(seg.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            seg.offset_index.rewrite([])
            seg.time_index.rewrite([])
        except OSError as exc:
            seg.close()
            raise StorageError(f"cannot create segment {seg.path}: {exc.strerror}") from exc
        return seg  # index files are opened on the first append: one descriptor until then

    @classmethod
    def open(
        cls,
        directory: str,
        base_offset: int,
        index_interval_bytes: int,
        *,
        next_segment_base: int | None,
        clean: bool,
    ) -> tuple[Segment, int]:
        """Open an existing segment. Returns it and the number of bytes cut off its tail.

        A sealed segment (``next_segment_base`` known) keeps its indexes when they
        agree with the file, else they are rebuilt from batch headers. The active
        segment is validated batch by batch (CRC, length) from its last index entry
        after a clean shutdown, and from its start after an unclean one; a torn tail
        is cut off."""
        seg = cls(directory, base_offset, index_interval_bytes)
        seg._fd = os.open(seg.path, os.O_RDWR | os.O_APPEND)
        seg.size = os.fstat(seg._fd).st_size
        truncated = 0
        if next_segment_base is not None:
            ok = seg.offset_index.load(seg.size, next_segment_base) and seg.time_index.load(
                next_segment_base
            )
            if ok:
                seg.next_offset = next_segment_base
                if seg.time_index.timestamps:
                    seg.max_timestamp = seg.time_index.timestamps[-1]
            if not ok or not seg._tail_is_consistent(next_segment_base):
                seg.rebuild_indexes(verify_crc=False)
        elif clean and seg.offset_index.load(seg.size, 1 << 62) and seg.time_index.load(1 << 62):
            truncated = seg._recover_from_last_entry()
        else:
            truncated = seg.rebuild_indexes(verify_crc=True)
        seg._load_first_timestamp()
        return seg, truncated

    def _tail_is_consistent(self, next_offset: int) -> bool:
        """Cheap staleness check of a sealed segment's indexes: the last indexed batch
        is where the offset index says, and the time index ends with the segment's
        final entry (its end offset, and a max timestamp no smaller than any batch's
        after the last index entry)."""
        if not self.offset_index.offsets:
            return self.size == 0 and not self.time_index.timestamps
        stamps = self.time_index
        if not stamps.timestamps or stamps.offsets[-1] != next_offset:
            return False
        pos = self.offset_index.positions[-1]
        expected = self.offset_index.offsets[-1]
        while pos < self.size:
            try:
                header = codec.read_header(os.pread(self._fd, codec.HEADER_SIZE, pos))
            except (ValueError, OSError):
                return False
            if header.base_offset != expected or header.max_timestamp > stamps.timestamps[-1]:
                return False
            pos, expected = pos + header.size, header.next_offset
        return pos == self.size and expected == next_offset

    def _recover_from_last_entry(self) -> int:
        if not self.offset_index.offsets:
            return self.rebuild_indexes(verify_crc=True)
        start, first = self.offset_index.positions[-1], self.offset_index.offsets[-1]
        if self.time_index.timestamps:
            self.max_timestamp = self.time_index.timestamps[-1]
        walk = self._validate(start, first, verify_crc=True)
        if walk.next_offset == first:  # the indexed batch itself was bad
            return self.rebuild_indexes(verify_crc=True)
        self.offset_index.open_for_append()
        self.time_index.open_for_append()
        for offset, pos in walk.offsets:
            if pos > start:
                self.offset_index.append(offset, pos)
        for ts, offset in walk.stamps:
            self.time_index.maybe_append(ts, offset)
        self.next_offset = walk.next_offset
        self.max_timestamp = max(self.max_timestamp, walk.max_timestamp)
        self._bytes_since_index = walk.since_index
        return self._truncate_to(walk.end)

    def _validate(self, start: int, next_offset: int, verify_crc: bool) -> _Walk:
        """Walk the batches from ``start`` (whose base offset is ``next_offset``),
        collecting index entries, until the end of the file or a torn tail.

        A bad batch with a valid batch right after it is damage, not a torn write:
        it is remembered (reads of it fail), offsets resume from the next batch, and
        nothing after it is cut. Bad data that reaches the end of the file is a torn
        write. Bad data followed by data that cannot be framed raises
        ``CorruptRecordError``: cutting it could lose acknowledged records."""
        walk = _Walk(start, next_offset)
        pos = start
        while True:
            anomaly = None
            for at, header, ok in self.scan(pos, verify_crc):
                if not ok or header.base_offset != walk.next_offset:
                    anomaly = (at, header)
                    break
                walk.add(at, header, self.index_interval_bytes)
            if anomaly is None:
                return walk
            at, header = anomaly
            resume = self._resync(at, header, walk.next_offset)
            if resume is None:
                return walk  # a torn tail: the caller cuts the file at walk.end
            after, next_base = resume
            self.damaged.append(at)
            walk.offsets.append((walk.next_offset, at))
            walk.offsets.append((next_base, after))
            walk.next_offset, walk.end, walk.since_index = next_base, after, 0
            pos = after

    def _resync(self, at: int, header: codec.BatchHeader, expected: int) -> tuple[int, int] | None:
        """Where the walk goes on after a bad batch at ``at``: ``(position, base offset)``
        of the next valid batch, or None when the bad data reaches the end of the file."""
        head = os.pread(self._fd, codec.LENGTH_PREFIX, at)
        size = None
        if header is not _BAD_HEADER:
            size = header.size
        elif len(head) == codec.LENGTH_PREFIX:
            size = codec.LENGTH_PREFIX + int.from_bytes(head[8:12], "big", signed=True)
        if size is None or size < codec.HEADER_SIZE or at + size >= self.size:
            return None
        after = at + size
        try:
            nxt = codec.read_header(os.pread(self._fd, codec.HEADER_SIZE, after))
            batch = os.pread(self._fd, nxt.size, after)
        except ValueError:
            nxt = None
        if nxt is not None and codec.crc_ok(batch, 0, nxt) and nxt.base_offset >= expected:
            return after, nxt.base_offset
        if not os.pread(self._fd, self.size - at, at).strip(b"\0"):
            return None  # zeros to the end: space the file system allocated, never written
        raise self.corrupt(at, "damaged batch header; the data after it cannot be framed")

    def _load_first_timestamp(self) -> None:
        if self.size >= codec.HEADER_SIZE:
            try:
                header = codec.read_header(os.pread(self._fd, codec.HEADER_SIZE, 0))
                self.first_batch_timestamp = header.max_timestamp
            except ValueError:
                self.first_batch_timestamp = -1

    def rebuild_indexes(self, verify_crc: bool) -> int:
        """Scan every batch, rebuild both indexes, cut a torn tail; returns bytes cut."""
        self.damaged.clear()
        walk = self._validate(0, self.base_offset, verify_crc)
        stamps = walk.stamps
        final = (walk.max_timestamp, walk.next_offset)
        if walk.max_timestamp >= 0 and (not stamps or stamps[-1] != final):
            stamps.append(final)
        truncated = self._truncate_to(walk.end)
        self.next_offset, self.max_timestamp = walk.next_offset, walk.max_timestamp
        self._bytes_since_index = walk.since_index
        self.offset_index.rewrite(walk.offsets)
        self.time_index.rewrite(stamps)
        return truncated

    def _truncate_to(self, end: int) -> int:
        truncated = self.size - end
        if truncated:
            os.ftruncate(self._fd, end)
            self.size = end
        return truncated

    def scan(self, start: int, verify_crc: bool) -> Iterator[tuple[int, codec.BatchHeader, bool]]:
        """Yield ``(position, header, valid)`` for each batch from ``start``. A batch whose
        CRC fails is yielded as invalid and the scan goes on by its length; an unparsable
        header or a batch running past the end of the file ends the scan."""
        pos = start
        while pos < self.size:
            chunk = os.pread(self._fd, min(SCAN_CHUNK, self.size - pos), pos)
            off = 0
            while off < len(chunk):
                try:
                    header = codec.read_header(chunk, off)
                except ValueError:
                    if len(chunk) - off < codec.HEADER_SIZE and pos + len(chunk) < self.size:
                        break  # the header straddles the chunk: read on
                    yield pos + off, _BAD_HEADER, False
                    return
                if pos + off + header.size > self.size:
                    yield pos + off, header, False
                    return
                if off + header.size > len(chunk):
                    if off == 0:  # a batch larger than the chunk
                        batch = os.pread(self._fd, header.size, pos)
                        yield pos, header, not verify_crc or codec.crc_ok(batch, 0, header)
                        off = header.size
                    break
                yield pos + off, header, not verify_crc or codec.crc_ok(chunk, off, header)
                off += header.size
            pos += off

    # --- appending ------------------------------------------------------------------

    def _open_for_append(self) -> None:
        self.offset_index.open_for_append()
        self.time_index.open_for_append()
        self._writable = True

    def append(
        self, batch: bytes | bytearray, base_offset: int, next_offset: int, max_ts: int
    ) -> None:
        if not self._writable:
            self._open_for_append()
        position = self.size
        try:
            written = os.write(self._fd, batch)
        except OSError as exc:
            self._undo_partial_write(position)
            raise _storage_error(self.path, exc) from exc
        if written != len(batch):
            self._undo_partial_write(position)
            raise StorageError(
                f"short write to {self.path} ({written} of {len(batch)} bytes): the disk is "
                "full or the file size limit was reached; nothing of this batch was stored"
            )
        self.size = position + written
        self._unflushed = True
        self._account(position, written, base_offset, next_offset, max_ts)

    def append_many(self, batches: Sequence[Placed], writeback: bool = False) -> None:
        """Append whole batches with one ``writev`` per ``IOV_MAX`` of them, indexed as
        ``append`` indexes each; all of them are stored or, on a write error, none.
        ``writeback`` (when a sync follows): one ``writev`` per ``WRITEBACK_BYTES`` or
        so, each range sent to the disk at once, so that the sync has less to wait for."""
        if not self._writable:
            self._open_for_append()
        start = self.size
        send = start_writeback() if writeback else None
        limit = WRITEBACK_BYTES if send is not None else None
        i = 0
        while i < len(batches):
            j, want = i + 1, len(batches[i].data)
            while j < len(batches) and j - i < IOV_MAX:
                if limit is not None and want + len(batches[j].data) > limit:
                    break
                want += len(batches[j].data)
                j += 1
            chunk = [b.data for b in batches[i:j]]
            i = j
            try:
                written = os.writev(self._fd, chunk)
            except OSError as exc:
                self._undo_partial_write(start)
                self.size = start
                raise _storage_error(self.path, exc) from exc
            if written != want:
                self._undo_partial_write(start)
                self.size = start
                raise StorageError(
                    f"short write to {self.path} ({written} of {want} bytes): the disk is "
                    "full or the file size limit was reached; nothing of these batches was "
                    "stored"
                )
            if send is not None:
                send(self._fd, self.size, written)
            self.size += written
        self._unflushed = True
        position = start
        for b in batches:
            self._account(position, len(b.data), b.base_offset, b.next_offset, b.max_timestamp)
            position += len(b.data)

    def _account(
        self, position: int, size: int, base_offset: int, next_offset: int, max_ts: int
    ) -> None:
        """Index a batch just written at ``position`` (sparsely) and move the offsets."""
        if self._bytes_since_index == 0 or self._bytes_since_index >= self.index_interval_bytes:
            self.offset_index.append(base_offset, position)
            self._bytes_since_index = 0
            self.time_index.maybe_append(max(self.max_timestamp, max_ts), next_offset)
        self._bytes_since_index += size
        if self.first_batch_timestamp < 0:
            self.first_batch_timestamp = max_ts
        self.max_timestamp = max(self.max_timestamp, max_ts)
        self.next_offset = next_offset

    def _undo_partial_write(self, position: int) -> None:
        try:
            os.ftruncate(self._fd, position)
        except OSError:
            pass  # recovery on the next open cuts the torn tail

    def seal(self) -> None:
        """On roll or close: end the time index with ``(max timestamp, end offset)``, the
        entry retention and time lookups rely on (and staleness checks look for)."""
        if self.max_timestamp >= 0:
            self.time_index.append_final(self.max_timestamp, self.next_offset)

    def flush(self) -> None:
        """fdatasync what was written. Safe beside appends (a partition's ``sync`` runs
        it outside the lock): the mark is cleared before the sync, so a write that lands
        meanwhile marks the segment again for the next one."""
        if not self._unflushed:
            return
        self._unflushed = False
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            self._unflushed = True
            raise StorageError(
                f"cannot flush {self.path} to disk: {exc.strerror or exc}; records written "
                "since the last flush may not survive a machine crash"
            ) from exc

    def flush_all(self) -> None:
        if not self._unflushed and not self._writable:
            return  # nothing written through this object: nothing to make durable
        self.flush()
        self.offset_index.flush()
        self.time_index.flush()

    # --- reading --------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def position_for(self, offset: int) -> tuple[int, int]:
        """``(base offset, file position)`` of the last indexed batch at or before ``offset``."""
        return self.offset_index.lookup(offset)

    def read(self, position: int, max_bytes: int, limit: int | None = None) -> bytes:
        end = self.size if limit is None else min(limit, self.size)
        if position >= end:
            return b""
        return os.pread(self._fd, min(max_bytes, end - position), position)

    def corrupt(self, position: int, why: str) -> CorruptRecordError:
        return CorruptRecordError(
            f"corrupt record batch in {self.path} at byte {position}: {why}; run "
            "'logway check' for a full report",
            path=self.path,
            position=position,
        )

    # --- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        self.offset_index.close()
        self.time_index.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def delete(self) -> None:
        self.close()
        for path in (self.path, self.offset_index.path, self.time_index.path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


_BAD_HEADER = codec.BatchHeader(-1, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, 0)


class _Walk:
    """What a walk over a segment's batches found: index entries, offsets, sizes."""

    def __init__(self, start: int, next_offset: int):
        self.end = start
        self.next_offset = next_offset
        self.max_timestamp = -1
        self.since_index = 0
        self.offsets: list[tuple[int, int]] = []
        self.stamps: list[tuple[int, int]] = []

    def add(self, position: int, header: codec.BatchHeader, interval: int) -> None:
        if not self.offsets or self.since_index >= interval:
            self.offsets.append((header.base_offset, position))
            if header.max_timestamp > self.max_timestamp:
                self.stamps.append((header.max_timestamp, header.next_offset))
            self.since_index = 0
        self.since_index += header.size
        self.max_timestamp = max(self.max_timestamp, header.max_timestamp)
        self.next_offset = header.next_offset
        self.end = position + header.size


def _storage_error(path: str, exc: OSError) -> StorageError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full"
    elif exc.errno == errno.EFBIG:
        why = "the file size limit was reached"
    else:
        why = exc.strerror or str(exc)
    return StorageError(f"cannot write to {path}: {why}; nothing of this batch was stored")
