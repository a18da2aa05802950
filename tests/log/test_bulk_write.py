"""Bulk appends synced at their end (``write_batches``, ``write_at`` on a topic with
``fsync="always"``): written in pieces of about ``WRITEBACK_BYTES``, each sent to the
disk at once so that the sync finds most of it written; stored whole or not at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from logway import Record
from logway.log import Log, segment
from logway.log.check import check_log
from logway.recordbatch import codec

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range")


def _batches(runs: list[range], size: int) -> bytes:
    """One batch per run of offsets, laid back to back."""
    return b"".join(
        codec.encode_wire(
            [Record("t", 0, o, 1_600_000_000_000 + o, None, bytes([o % 251]) * size) for o in run]
        )
        for run in runs
    )


RUNS = [range(0, 3), range(3, 40), range(40, 41), range(41, 43), range(43, 90), range(90, 95)]


@linux_only
def test_writeback_is_started_on_linux(tmp_path: Path) -> None:
    start = segment.start_writeback()
    assert start is not None
    path = tmp_path / "f"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        os.write(fd, b"x" * 10_000)
        assert start(fd, 0, 10_000)
        assert not start(-1, 0, 10_000)  # the call is made: a bad descriptor is refused
        os.fsync(fd)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"x" * 10_000


def test_a_bulk_append_in_pieces_keeps_every_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pieces of several batches, and batches larger than a piece, in order."""
    monkeypatch.setattr(segment, "WRITEBACK_BYTES", 3000)
    data = _batches(RUNS, 100)
    assert (
        max(h.size for _, h in codec.scan_batches(data))
        > 3000
        > min(h.size for _, h in codec.scan_batches(data))
    )
    with Log(str(tmp_path)) as log:
        log.create_topic("t", fsync="always", segment_bytes=4000)  # rolls between pieces
        log.append_batches("t", 0, data)
        log.append_batches("t", 0, _batches([range(95, 99)], 10))
        part = log.partition("t", 0)
        assert part.read_batches(0, 1 << 30) == data + _batches([range(95, 99)], 10)
        assert check_log(log).problems == []
    with Log(str(tmp_path)) as log:
        got = log.partition("t", 0).read(0, 1 << 20, 1 << 30)
        assert [r.offset for r in got] == list(range(99))
        assert [r.value for r in got[40:43]] == [bytes([o]) * 100 for o in (40, 41, 42)]


SHIFTED = [range(r.start + 5, r.stop + 5) for r in RUNS]  # after 5 records already there

REFUSED_MIDWAY = """
import json, os, resource, signal, sys
from logway.errors import StorageError
from logway.log import Log, segment
from logway.recordbatch import codec
from tests.log.test_bulk_write import SHIFTED, _batches

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, not the process
segment.WRITEBACK_BYTES = 3000
data = _batches(SHIFTED, 100)
sizes = [h.size for _, h in codec.scan_batches(data)]
with Log(sys.argv[1]) as log:
    log.create_topic("t", fsync="always")
    log.append_batches("t", 0, _batches([range(0, 5)], 10))
    part = log.partition("t", 0)
    before = [part.end_offset, part.size]
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    # room for the first four batches (three pieces) and a little of the fifth
    resource.setrlimit(resource.RLIMIT_FSIZE, (part.size + sum(sizes[:4]) + 10, hard))
    try:
        log.append_batches("t", 0, data)
        failure = None
    except StorageError as exc:
        failure = str(exc)
    after = [part.end_offset, part.size, os.path.getsize(part.segments[-1].path)]
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    log.append_batches("t", 0, data)
print(json.dumps({"before": before, "after": after, "failure": failure}))
"""


@linux_only
def test_a_piece_refused_midway_stores_none_of_the_append(tmp_path: Path) -> None:
    """The file size limit (how a full disk looks to one file) refuses the fourth piece
    after three were written: they are taken back, and the append can be made again."""
    done = subprocess.run(
        [sys.executable, "-c", REFUSED_MIDWAY, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    end, size = report["before"]
    assert end == 5 and report["failure"] and "nothing of these batches" in report["failure"]
    assert report["after"] == [end, size, size]
    with Log(str(tmp_path)) as log:
        got = log.partition("t", 0).read(0, 1 << 20, 1 << 30)
        assert [r.offset for r in got] == list(range(100))
        assert check_log(log).problems == []
