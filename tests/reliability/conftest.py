"""Helpers shared by the reliability suites: file layout, an independent reader of
RecordBatch v2 framing (so the tests do not trust the code they test to find
batches), reading a whole partition, and running ``logway check`` as a user does.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import logway

HERE = Path(__file__).resolve().parent
CLEAN_SHUTDOWN = ".clean-shutdown"

# Kafka RecordBatch v2 header, spelled out independently of logway.recordbatch.codec:
# baseOffset, batchLength, partitionLeaderEpoch, magic, crc, attributes, lastOffsetDelta,
# baseTimestamp, maxTimestamp, producerId, producerEpoch, baseSequence, recordCount
BATCH_HEADER = struct.Struct(">qiibIhiqqqhii")
LENGTH_PREFIX = 12  # baseOffset + batchLength; batchLength counts the bytes after them
OFFSET_INDEX_ENTRY = struct.Struct(">ii")  # relative offset, position
TIME_INDEX_ENTRY = struct.Struct(">qi")  # max timestamp so far, relative offset


@pytest.fixture(autouse=True)
def _default_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suites test the default policy (fsync="always"), whatever the shell says."""
    monkeypatch.delenv("LOGWAY_FSYNC", raising=False)
    monkeypatch.delenv("LOGWAY_URL", raising=False)


def child_env() -> dict[str, str]:
    """Environment for child processes: the default fsync policy, no stray URL."""
    env = {k: v for k, v in os.environ.items() if k not in ("LOGWAY_FSYNC", "LOGWAY_URL")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def url(data: Path) -> str:
    return f"file:{data}"


def partition_dir(data: Path, topic: str, partition: int = 0) -> Path:
    return data / "topics" / topic / str(partition)


def segment_logs(data: Path, topic: str, partition: int = 0) -> list[Path]:
    """The partition's ``.log`` files, oldest first."""
    return sorted(partition_dir(data, topic, partition).glob("*.log"))


def mark_unclean(data: Path) -> None:
    """Turn the last clean stop into an unclean one, as a crash would leave it."""
    marker = data / CLEAN_SHUTDOWN
    assert marker.exists(), "the data directory was not closed cleanly before the fault"
    marker.unlink()


@dataclass(frozen=True)
class Batch:
    position: int
    base_offset: int
    size: int
    magic: int
    last_offset_delta: int
    max_timestamp: int
    record_count: int

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def end(self) -> int:
        return self.position + self.size


def read_batches(path: Path) -> list[Batch]:
    """Walk a segment file by its framing alone; fails the test on anything but whole
    v2 batches (use it on files known to be intact)."""
    data = path.read_bytes()
    out: list[Batch] = []
    pos = 0
    while pos < len(data):
        assert len(data) - pos >= BATCH_HEADER.size, f"{path}: partial header at {pos}"
        f = BATCH_HEADER.unpack_from(data, pos)
        batch = Batch(pos, f[0], LENGTH_PREFIX + f[1], f[3], f[6], f[8], f[12])
        assert batch.magic == 2, f"{path}: magic {batch.magic} at {pos}"
        assert batch.end <= len(data), f"{path}: batch at {pos} runs past the end"
        out.append(batch)
        pos = batch.end
    return out


def read_offset_index(path: Path, base_offset: int) -> list[tuple[int, int]]:
    raw = path.read_bytes()
    assert len(raw) % OFFSET_INDEX_ENTRY.size == 0, f"{path} is not whole entries"
    return [(base_offset + rel, pos) for rel, pos in OFFSET_INDEX_ENTRY.iter_unpack(raw)]


def read_time_index(path: Path, base_offset: int) -> list[tuple[int, int]]:
    raw = path.read_bytes()
    assert len(raw) % TIME_INDEX_ENTRY.size == 0, f"{path} is not whole entries"
    return [(ts, base_offset + rel) for ts, rel in TIME_INDEX_ENTRY.iter_unpack(raw)]


def fetch_all(
    broker: logway.Broker, topic: str, partition: int = 0, start: int | None = None
) -> list[logway.Record]:
    """Every record of a partition from ``start`` (the start offset) to the end offset."""
    offset = broker.start_offsets(topic)[partition] if start is None else start
    end = broker.end_offsets(topic)[partition]
    out: list[logway.Record] = []
    while offset < end:
        records = broker.fetch(topic, partition, offset, max_records=1000, max_bytes=4 << 20)
        assert records, f"fetch at {offset} returned nothing before the end offset {end}"
        out.extend(records)
        offset = records[-1].offset + 1
    return out


def run_check(data: Path) -> subprocess.CompletedProcess[str]:
    """``logway check`` on a data directory, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "logway.cli.main", "--url", url(data), "check"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
    )
