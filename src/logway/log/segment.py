"""One segment of a partition: a ``.log`` file of record batches named by its base
offset (20 digits, as Kafka names them) with its ``.index`` and ``.timeindex``.

Appends go to the end of the file only; a batch becomes visible to readers once
it is completely written (``size`` moves after the write). Reads verify every
batch's CRC, so damaged data raises ``CorruptRecordError`` and is never served.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

from logway.errors import CorruptRecordError, StorageError
from logway.log import codec
from logway.log.offset_index import OffsetIndex
from logway.log.time_index import TimeIndex

SCAN_CHUNK = 1 << 20


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
        seg._open_for_append()
        return seg

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
            if not ok or not seg._tail_is_consistent():
                seg.rebuild_indexes(verify_crc=False)
        elif clean and seg.offset_index.load(seg.size, 1 << 62) and seg.time_index.load(1 << 62):
            truncated = seg._recover_from_last_entry()
        else:
            truncated = seg.rebuild_indexes(verify_crc=True)
        seg._load_first_timestamp()
        return seg, truncated

    def _tail_is_consistent(self) -> bool:
        """Cheap staleness check: the last indexed batch must be where the index says."""
        if not self.offset_index.offsets:
            return self.size == 0
        pos = self.offset_index.positions[-1]
        try:
            header = codec.read_header(os.pread(self._fd, codec.HEADER_SIZE, pos))
        except (ValueError, OSError):
            return False
        return (
            header.base_offset == self.offset_index.offsets[-1] and pos + header.size <= self.size
        )

    def _recover_from_last_entry(self) -> int:
        if not self.offset_index.offsets:
            return self.rebuild_indexes(verify_crc=True)
        start, next_offset = self.offset_index.positions[-1], self.offset_index.offsets[-1]
        if self.time_index.timestamps:
            self.max_timestamp = self.time_index.timestamps[-1]
        self.offset_index.open_for_append()
        self.time_index.open_for_append()
        end, next_offset, max_ts, since = self._validate(start, next_offset, verify_crc=True)
        if next_offset == self.offset_index.offsets[-1]:  # the indexed batch itself was bad
            return self.rebuild_indexes(verify_crc=True)
        self.next_offset, self.max_timestamp = next_offset, max(self.max_timestamp, max_ts)
        self._bytes_since_index = since
        return self._truncate_to(end)

    def _validate(
        self,
        start: int,
        next_offset: int,
        verify_crc: bool,
        offsets: list[tuple[int, int]] | None = None,
        stamps: list[tuple[int, int]] | None = None,
    ) -> tuple[int, int, int, int]:
        """Walk batches from ``start``; returns ``(valid end, next offset, max ts, bytes since
        the last index entry)``. A bad batch with more data after it is damage, not a
        torn write: it is remembered (reads of it fail) and the walk goes on; an
        unparsable header with data after it raises ``CorruptRecordError``."""
        max_ts, valid_end, since = -1, start, 0
        for pos, header, ok in self.scan(start, verify_crc):
            at_tail = header is _BAD_HEADER or pos + header.size >= self.size
            if not ok or header.base_offset != next_offset:
                if at_tail:
                    break
                if header is _BAD_HEADER:
                    raise self.corrupt(pos, "unreadable batch header with data after it")
                self.damaged.append(pos)
            if offsets is not None and (since == 0 or since >= self.index_interval_bytes):
                offsets.append((next_offset, pos))
                if stamps is not None and header.max_timestamp > max_ts and ok:
                    stamps.append(
                        (
                            max(max_ts, header.max_timestamp),
                            next_offset + header.last_offset_delta + 1,
                        )
                    )
                since = 0
            since += header.size
            if ok:
                max_ts = max(max_ts, header.max_timestamp)
            next_offset += header.last_offset_delta + 1
            valid_end = pos + header.size
        return valid_end, next_offset, max_ts, since

    def _truncate_to(self, end: int) -> int:
        truncated = self.size - end
        if truncated:
            os.ftruncate(self._fd, end)
            self.size = end
        return truncated

    def _load_first_timestamp(self) -> None:
        if self.size >= codec.HEADER_SIZE:
            try:
                header = codec.read_header(os.pread(self._fd, codec.HEADER_SIZE, 0))
                self.first_batch_timestamp = header.max_timestamp
            except ValueError:
                self.first_batch_timestamp = -1

    def rebuild_indexes(self, verify_crc: bool) -> int:
        """Scan every batch, rebuild both indexes, cut a torn tail; returns bytes cut."""
        offsets: list[tuple[int, int]] = []
        stamps: list[tuple[int, int]] = []
        self.damaged.clear()
        end, next_offset, max_ts, since = self._validate(
            0, self.base_offset, verify_crc, offsets, stamps
        )
        if max_ts >= 0 and (not stamps or max_ts > stamps[-1][0]):
            stamps.append((max_ts, next_offset))
        truncated = self._truncate_to(end)
        self.next_offset, self.max_timestamp = next_offset, max_ts
        self._bytes_since_index = since
        self.offset_index.rewrite(offsets)
        self.time_index.rewrite(stamps)
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
        if self._bytes_since_index == 0 or self._bytes_since_index >= self.index_interval_bytes:
            self.offset_index.append(base_offset, position)
            self._bytes_since_index = 0
            self.time_index.maybe_append(max(self.max_timestamp, max_ts), next_offset)
        self._bytes_since_index += written
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
        """On roll or close: record the final max timestamp in the time index."""
        if self.max_timestamp >= 0:
            self.time_index.maybe_append(self.max_timestamp, self.next_offset)

    def flush(self) -> None:
        try:
            os.fdatasync(self._fd)
        except OSError as exc:
            raise _storage_error(self.path, exc) from exc

    def flush_all(self) -> None:
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

    def read_batch_at(self, position: int, header_size: int) -> bytes:
        return os.pread(self._fd, header_size, position)

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


def _storage_error(path: str, exc: OSError) -> StorageError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "the disk is full"
    elif exc.errno == errno.EFBIG:
        why = "the file size limit was reached"
    else:
        why = exc.strerror or str(exc)
    return StorageError(f"cannot write to {path}: {why}; nothing of this batch was stored")
