"""A partition: an ordered list of segments, the last one active.

Appends are serialised by the partition's lock; offsets are dense and never
reused (an empty active segment named by the next offset survives retention).
Readers take the lock only to copy bytes out of a file, so decoding runs
alongside appends. Listeners are called after each append so waiting readers
wake without polling.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Callable, Sequence

from logway.errors import (
    CorruptRecordError,
    InvalidArgumentError,
    OffsetOutOfRangeError,
    StorageError,
)
from logway.log.segment import Placed, Segment
from logway.log.topic_config import TopicConfig, fsync_dir
from logway.recordbatch import codec
from logway.records import Record

READ_CHUNK = 256 * 1024


def now_ms() -> int:
    return int(time.time() * 1000)


class Partition:
    def __init__(self, directory: str, topic: str, index: int, config: TopicConfig, clean: bool):
        self.directory = directory
        self.topic = topic
        self.index = index
        self.config = config
        self.lock = threading.RLock()
        self.segments: list[Segment] = []
        self.base_offsets: list[int] = []
        self.truncated_bytes = 0
        self.dirty = False
        self._listeners: list[Callable[[], None]] = []
        self._active_since = 0
        self._cache: tuple[str, int, bytes] | None = None
        os.makedirs(directory, exist_ok=True)
        self._load(clean)

    # --- loading --------------------------------------------------------------------

    def _load(self, clean: bool) -> None:
        bases = []
        for name in os.listdir(self.directory):
            if name.endswith(".tmp"):
                os.unlink(os.path.join(self.directory, name))
            elif name.endswith(".log") and name[:-4].isdigit():
                bases.append(int(name[:-4]))
        bases.sort()
        if not bases:
            self._add_segment(Segment.create(self.directory, 0, self.config.index_interval_bytes))
            return
        for i, base in enumerate(bases):
            nxt = bases[i + 1] if i + 1 < len(bases) else None
            seg, cut = Segment.open(
                self.directory,
                base,
                self.config.index_interval_bytes,
                next_segment_base=nxt,
                clean=clean,
            )
            self.truncated_bytes += cut
            self._add_segment(seg)
        self._active_since = now_ms()

    def _add_segment(self, seg: Segment) -> None:
        self.segments.append(seg)
        self.base_offsets.append(seg.base_offset)
        self._active_since = now_ms()

    # --- offsets --------------------------------------------------------------------

    @property
    def start_offset(self) -> int:
        return self.segments[0].base_offset

    @property
    def end_offset(self) -> int:
        """The offset the next record will get (Kafka's log end offset)."""
        return self.segments[-1].next_offset

    @property
    def size(self) -> int:
        return sum(s.size for s in self.segments)

    @property
    def empty(self) -> bool:
        """No record is stored (never was, or retention deleted them all)."""
        return all(s.size == 0 for s in self.segments)

    # --- appending ------------------------------------------------------------------

    def append(self, batch: bytearray, count: int, max_ts: int) -> int:
        """Append an encoded batch (its base offset is set here); returns the base offset."""
        with self.lock:
            if not self.segments:
                raise StorageError(f"partition {self.topic}/{self.index} is closed")
            self._maybe_roll(len(batch))
            active = self.segments[-1]
            base = active.next_offset
            codec.set_base_offset(batch, base)
            active.append(batch, base, base + count, max_ts)
            policy = self.config.fsync
            if policy == "always":
                active.flush()
            elif policy == "interval":
                self.dirty = True
            listeners = list(self._listeners)
        for notify in listeners:
            notify()
        return base

    def _maybe_roll(self, incoming: int, next_offset: int = 0) -> None:
        active = self.segments[-1]
        if active.size == 0:
            return
        too_big = active.size + incoming > self.config.segment_bytes
        too_old = now_ms() - self._active_since >= self.config.segment_ms
        # indexes hold offsets relative to the segment's base as int32 (Kafka rolls too)
        too_far = next_offset - 1 - active.base_offset > codec.MAX_OFFSET_DELTA
        if too_big or too_old or too_far:
            self.roll()

    def append_many(
        self, batches: Sequence[Placed], begin_at: int | None = None, sync: bool = True
    ) -> None:
        """Append whole batches that carry their own offsets (``write_at``): the first
        based at the end offset, each next one where the previous ends. ``begin_at``
        moves the start of an empty partition up to that offset first. Batches go to the
        active segment with one write per segment they fill; the partition syncs once."""
        if not batches:
            return
        with self.lock:
            if not self.segments:
                raise StorageError(f"partition {self.topic}/{self.index} is closed")
            expect = self.end_offset if begin_at is None else begin_at
            if begin_at is not None and not (self.empty and begin_at >= self.end_offset):
                raise InvalidArgumentError(
                    f"{self.topic}/{self.index} holds records up to offset {self.end_offset}; "
                    f"only an empty partition can begin at offset {begin_at}"
                )
            for b in batches:
                if b.base_offset != expect or b.next_offset <= b.base_offset:
                    raise InvalidArgumentError(
                        f"a batch for {self.topic}/{self.index} covers offsets {b.base_offset} "
                        f"to {b.next_offset - 1}; the next batch must begin at {expect}"
                    )
                expect = b.next_offset
            if begin_at is not None:
                self._begin_at(begin_at)
            i = 0
            while i < len(batches):
                self._maybe_roll(len(batches[i].data), batches[i].next_offset)
                active = self.segments[-1]
                room = self.config.segment_bytes - active.size
                j, size = i + 1, len(batches[i].data)
                while j < len(batches):
                    b = batches[j]
                    if size + len(b.data) > room or (
                        b.next_offset - 1 - active.base_offset > codec.MAX_OFFSET_DELTA
                    ):
                        break
                    size += len(b.data)
                    j += 1
                active.append_many(batches[i:j], writeback=sync and self.config.fsync == "always")
                i = j
            if self.config.fsync == "always" and sync:
                self.segments[-1].flush()
            elif self.config.fsync != "never":
                self.dirty = True  # "always" without sync: the caller's ``sync`` follows
            listeners = list(self._listeners)
        for notify in listeners:
            notify()

    def _begin_at(self, offset: int) -> None:
        """Start an empty partition at ``offset``: a new empty segment named by it
        replaces the empty ones. The new one is made first, so a crash in between leaves
        two empty segments whose offsets still only grow."""
        if self.segments[0].base_offset == offset:
            return
        fresh = Segment.create(self.directory, offset, self.config.index_interval_bytes)
        fsync_dir(self.directory)
        old = self.segments
        self.segments, self.base_offsets = [], []
        self._add_segment(fresh)
        for seg in old:
            seg.delete()
        fsync_dir(self.directory)

    def roll(self) -> None:
        """Seal the active segment and start a new one at the end offset."""
        with self.lock:
            active = self.segments[-1]
            if active.size == 0:
                return
            active.seal()
            if self.config.fsync != "never":
                active.flush_all()
            active.offset_index.close()
            active.time_index.close()
            self._add_segment(
                Segment.create(self.directory, active.next_offset, self.config.index_interval_bytes)
            )
            if self.config.fsync != "never":
                fsync_dir(self.directory)

    def flush(self) -> None:
        with self.lock:
            if self.segments:
                self.segments[-1].flush()
            self.dirty = False

    def sync(self) -> None:
        """Make what was appended so far durable when the topic's fsync policy is
        "always" (appends made with ``sync=False`` wait for this): one fdatasync,
        outside the lock, so appends go on meanwhile and many writers' records share
        it (group commit). A segment rolled meanwhile was synced by the roll."""
        if self.config.fsync != "always":
            return
        with self.lock:
            if not self.segments:
                raise StorageError(f"partition {self.topic}/{self.index} is closed")
            active = self.segments[-1]
        active.flush()

    # --- retention ------------------------------------------------------------------

    def apply_retention(self, now: int | None = None) -> int:
        """Delete whole segments past ``retention_ms`` or beyond ``retention_bytes``
        (Kafka's rules: by a segment's largest timestamp; by total size while the rest
        still meets the limit). Returns the number of segments deleted."""
        now = now_ms() if now is None else now
        deleted = 0
        with self.lock:
            cfg = self.config
            while True:
                oldest = self.segments[0]
                expired = (
                    cfg.retention_ms >= 0
                    and oldest.size > 0
                    and oldest.max_timestamp < now - cfg.retention_ms
                )
                oversize = (
                    cfg.retention_bytes >= 0 and self.size - oldest.size >= cfg.retention_bytes
                )
                if not (expired or (oversize and oldest.size > 0)):
                    break
                if len(self.segments) == 1:
                    self.roll()  # the active segment goes too: keep an empty one at the end offset
                self.segments.pop(0)
                self.base_offsets.pop(0)
                oldest.delete()
                deleted += 1
        return deleted

    # --- reading --------------------------------------------------------------------

    def check_offset(self, offset: int) -> None:
        OffsetOutOfRangeError.check(
            self.topic, self.index, offset, self.start_offset, self.end_offset
        )

    def read(self, offset: int, max_records: int, max_bytes: int) -> list[Record]:
        """Records from ``offset`` on: at most ``max_records``, stopping after ``max_bytes``
        of batches once at least one record is in hand."""
        with self.lock:
            self.check_offset(offset)
            if offset == self.end_offset:
                return []
            i = max(0, bisect.bisect_right(self.base_offsets, offset) - 1)
            segments = self.segments[i:]
        out: list[Record] = []
        budget = max_bytes
        for seg in segments:
            if len(out) >= max_records or (out and budget <= 0):
                break
            expect, pos = seg.position_for(offset)
            try:
                offset, budget = self._read_segment(
                    seg, pos, expect, offset, max_records, budget, out
                )
            except CorruptRecordError:
                if out:  # hand out what precedes the damage; the next read reports it
                    return out
                raise
        return out

    def _read_segment(
        self,
        seg: Segment,
        pos: int,
        expect: int,
        offset: int,
        max_records: int,
        budget: int,
        out: list[Record],
    ) -> tuple[int, int]:
        """Read batches from ``pos``, whose base offset must be ``expect`` (the base
        offset is outside the CRC, so continuity is what vouches for it)."""
        limit = seg.size
        while pos < limit and len(out) < max_records and not (out and budget <= 0):
            with self.lock:
                if seg.closed:  # deleted by retention while we read
                    raise OffsetOutOfRangeError(
                        f"offset {offset} of {self.topic}/{self.index} was deleted by retention "
                        "during the read; the start offset is now "
                        f"{self.start_offset if self.segments else 'unknown'}"
                    )
                # small reads: a batch larger than the chunk is then read whole, exactly
                chunk = seg.read(pos, READ_CHUNK, limit)
            off = 0
            while off < len(chunk) and len(out) < max_records and not (out and budget <= 0):
                try:
                    header = codec.read_header(chunk, off)
                except ValueError as exc:
                    if len(chunk) - off < codec.HEADER_SIZE and pos + len(chunk) < limit:
                        break
                    raise seg.corrupt(pos + off, str(exc)) from None
                if off + header.size > len(chunk):
                    if off == 0:
                        with self.lock:
                            chunk = seg.read(pos, header.size, limit)
                        if len(chunk) < header.size:
                            raise seg.corrupt(pos, "batch runs past the end of the segment")
                        continue
                    break
                if header.base_offset != expect:
                    raise seg.corrupt(
                        pos + off, f"batch says base offset {header.base_offset}, expected {expect}"
                    )
                expect = header.next_offset
                if header.next_offset > offset:
                    recs = self._decode(
                        seg, pos + off, chunk, off, header, offset, max_records - len(out)
                    )
                    if recs:
                        out.extend(recs)
                        offset = recs[-1].offset + 1
                    budget -= header.size
                off += header.size
            pos += off
            if off == 0:
                break
        return offset, budget

    def _decode(
        self,
        seg: Segment,
        position: int,
        chunk: bytes,
        off: int,
        header: codec.BatchHeader,
        offset: int,
        max_count: int,
    ) -> list[Record]:
        try:
            cached = self._cache
            if cached and cached[0] == seg.path and cached[1] == position:
                payload = cached[2]
            else:
                payload = codec.records_payload(chunk, off, header)
                if header.compression:
                    self._cache = (seg.path, position, payload)
            return codec.decode_payload(payload, header, self.topic, self.index, offset, max_count)
        except ValueError as exc:
            raise seg.corrupt(position, str(exc)) from None

    def read_batches(self, offset: int, max_bytes: int, whole: bool = False) -> bytes:
        """Whole batches as stored, holding the records from ``offset`` on: at least
        one batch when there are records, more while under ``max_bytes``. Each batch's
        CRC and base offset are checked (damage raises ``CorruptRecordError``); a first
        batch that begins below ``offset`` is cut to the records from ``offset`` on,
        unless ``whole`` (Kafka's Fetch: the client skips the records before it)."""
        with self.lock:
            self.check_offset(offset)
            if offset == self.end_offset:
                return b""
            i = max(0, bisect.bisect_right(self.base_offsets, offset) - 1)
            segments = self.segments[i:]
        out: list[bytes | memoryview] = []
        size = 0
        for seg in segments:
            expect, pos = seg.position_for(offset)
            limit = seg.size
            while pos < limit and size < max_bytes:
                # the first batch's header says how much to read: at least that batch
                header = self._header_at(seg, pos, limit, offset)
                with self.lock:
                    self._check_not_deleted(seg, offset)
                    chunk = seg.read(pos, max(max_bytes - size, header.size), limit)
                view = memoryview(chunk)
                off = 0
                while size < max_bytes and len(view) - off >= codec.HEADER_SIZE:
                    try:
                        header = codec.read_header(view, off)
                    except ValueError as exc:
                        raise seg.corrupt(pos + off, str(exc)) from None
                    if off + header.size > len(view):
                        if pos + off + header.size > limit:
                            raise seg.corrupt(pos + off, "batch runs past the end of the segment")
                        break  # the rest of it is for the next read
                    if header.base_offset != expect:
                        raise seg.corrupt(
                            pos + off,
                            f"batch says base offset {header.base_offset}, expected {expect}",
                        )
                    expect = header.next_offset
                    if header.next_offset > offset:
                        if not codec.crc_ok(view, off, header):
                            raise seg.corrupt(pos + off, "CRC-32C mismatch")
                        batch: bytes | memoryview = view[off : off + header.size]
                        if header.base_offset < offset and not whole:
                            records = self._decode(
                                seg, pos + off, chunk, off, header, offset, 1 << 62
                            )
                            batch = codec.encode_wire(records)
                        out.append(batch)
                        size += len(batch)
                    off += header.size
                pos += off
            if size >= max_bytes:
                break
        if len(out) == 1 and isinstance(out[0], memoryview):
            read = out[0].obj
            if isinstance(read, bytes) and len(read) == len(out[0]):
                return read  # one read, whole: no copy
        return b"".join(out)

    def _header_at(self, seg: Segment, pos: int, limit: int, offset: int) -> codec.BatchHeader:
        with self.lock:
            self._check_not_deleted(seg, offset)
            head = seg.read(pos, codec.HEADER_SIZE, limit)
        try:
            return codec.read_header(head)
        except ValueError as exc:
            raise seg.corrupt(pos, str(exc)) from None

    def _check_not_deleted(self, seg: Segment, offset: int) -> None:
        if seg.closed:  # deleted by retention while we read
            raise OffsetOutOfRangeError(
                f"offset {offset} of {self.topic}/{self.index} was deleted by retention "
                "during the read"
            )

    def offset_for_time(self, timestamp: int) -> int | None:
        """The first offset whose record has a timestamp >= ``timestamp``, or None."""
        with self.lock:
            segments = list(self.segments)
        for seg in segments:
            if seg.max_timestamp < timestamp:
                continue
            offset = max(seg.time_index.lookup(timestamp), seg.base_offset)
            while offset < seg.next_offset:
                records = self.read(offset, 1000, 1 << 20)
                if not records:
                    break
                for rec in records:
                    if rec.timestamp >= timestamp:
                        return rec.offset
                offset = records[-1].offset + 1
        return None

    # --- listeners ------------------------------------------------------------------

    def add_listener(self, callback: Callable[[], None]) -> None:
        with self.lock:
            self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[], None]) -> None:
        with self.lock:
            try:
                self._listeners.remove(callback)
            except ValueError:
                pass

    # --- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        with self.lock:
            if self.segments and self.config.fsync != "never":
                self.segments[-1].seal()
                self.segments[-1].flush_all()
            elif self.segments:
                self.segments[-1].seal()
            for seg in self.segments:
                seg.close()
            self.segments = []
            self.base_offsets = []
            listeners = list(self._listeners)
        for notify in listeners:  # wake waiting readers so they notice the close
            notify()
