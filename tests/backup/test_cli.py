"""``logway backup`` and ``logway restore``, run as a user runs them: a process per
command, against a data directory (and a real S3 server)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import logway
from logway.backends.embedded import EmbeddedBroker
from tests.backup.records import assert_same, produce
from tests.s3_server import S3Server

pytestmark = pytest.mark.slow  # a real process per command

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    def run(*args: str, ok: bool = True, env: dict[str, str] | None = None) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", "logway.cli.main", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=120,
        )
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    return run


def _data(tmp_path: Path) -> str:
    return f"file:{tmp_path / 'data'}"


def _prepare(tmp_path: Path, partitions: int = 3, records: int = 2000) -> None:
    with logway.connect(_data(tmp_path)) as broker:
        broker.create_topic("orders", partitions=partitions, segment_bytes=20_000)
        produce(broker, "orders", records)


def test_backup_twice_then_restore(run: Run, tmp_path: Path) -> None:
    _prepare(tmp_path)
    url, dest = _data(tmp_path), str(tmp_path / "backup")
    first = run("--url", url, "backup", "orders", dest, "--object-size", "16KB")
    assert "backed up 2000 record(s) of orders" in first.stdout
    assert "PARTITION" in first.stdout and "run 1" in first.stdout
    again = run("backup", "orders", dest, "--url", url)  # --url after the command, too
    assert "backed up 0 record(s) of orders in 0 new object(s)" in again.stdout
    with logway.connect(url) as broker:
        produce(broker, "orders", 300, start=2000)
    third = run("--url", url, "backup", "orders", dest)
    assert "backed up 300 record(s)" in third.stdout and "holds 2300 record(s)" in third.stdout
    restored = run("--url", url, "restore", dest, "--topic", "orders-copy")
    assert "restored 2300 record(s) of orders (3 partition(s)" in restored.stdout
    assert "every checksum verified" in restored.stdout
    with logway.connect(url) as broker:
        assert_same(broker, "orders", "orders-copy")


def test_the_table_gives_the_offsets_held_first_to_last(run: Run, tmp_path: Path) -> None:
    """As object names and the manifest do: the last offset is the last record's."""
    url, dest = _data(tmp_path), tmp_path / "backup"
    with logway.connect(url) as broker:
        broker.create_topic("t", partitions=2)
        broker.produce_many("t", [b"x"] * 12841, partition=0)

    def offsets_held(out: str) -> dict[str, str]:
        header, *rows = out.splitlines()
        assert header.split()[5:7] == ["OFFSETS", "HELD"]
        return {row.split()[0]: row.split()[4] for row in rows if row[:1].isdigit()}

    first = run("--url", url, "backup", "t", str(dest), "--object-size", "64KB")
    assert offsets_held(first.stdout) == {"0": "0-12840", "1": "none"}
    last_name = sorted(p.name for p in (dest / "t" / "0").iterdir())[-1]
    assert last_name.endswith("-00000000000000012840.batches")
    with logway.connect(url) as broker:
        broker.produce_many("t", [b"y"] * 10, partition=0)
        broker.produce("t", b"z", partition=1)
    again = run("--url", url, "backup", "t", str(dest))
    assert offsets_held(again.stdout) == {"0": "0-12850", "1": "0-0"}


def test_a_damaged_object_fails_the_restore_by_name(run: Run, tmp_path: Path) -> None:
    _prepare(tmp_path)
    url, dest = _data(tmp_path), tmp_path / "backup"
    run("--url", url, "backup", "orders", str(dest), "--object-size", "16KB")
    victim = sorted((dest / "orders" / "2").iterdir())[1]
    data = bytearray(victim.read_bytes())
    data[100] ^= 0x04
    victim.write_bytes(bytes(data))
    failed = run("--url", url, "restore", str(dest), "-t", "orders-copy", ok=False)
    assert failed.returncode == 1
    assert f"backup object {victim} is damaged" in failed.stderr
    assert "orders-copy" not in run("--url", url, "topics", "list").stdout.split()
    victim.unlink()
    missing = run("--url", url, "restore", str(dest), "-t", "orders-copy", ok=False)
    assert missing.returncode == 1 and f"{victim} is missing" in missing.stderr


def test_records_lost_to_retention_are_a_warning(run: Run, tmp_path: Path) -> None:
    url, dest = _data(tmp_path), str(tmp_path / "backup")
    with logway.connect(url) as broker:
        broker.create_topic("t", segment_bytes=3000, retention_bytes=9000)
        produce(broker, "t", 300)
    run("--url", url, "backup", "t", dest)
    with logway.connect(url) as broker:
        assert isinstance(broker, EmbeddedBroker)
        end = broker.end_offsets("t")[0]
        for _ in range(10):
            produce(broker, "t", 300)
        broker.apply_retention()
        start = broker.start_offsets("t")[0]
    second = run("--url", url, "backup", "t", dest)
    assert f"offsets {end} to {start - 1} of t/0 were deleted by retention" in second.stderr
    assert "WARNING: retention deleted records before they were backed up" in second.stderr
    assert f"GAP: offsets {end}-{start - 1} lost to retention" in second.stdout
    restored = run("--url", url, "restore", dest, "-t", "t2", "-c", "retention_bytes=-1")
    assert f"no records at offsets {end} to {start - 1} of partition 0" in restored.stderr


def test_bad_arguments(run: Run, tmp_path: Path) -> None:
    _prepare(tmp_path, partitions=1, records=10)
    url, dest = _data(tmp_path), tmp_path / "backup"
    missing = run("--url", url, "backup", "nope", str(dest), ok=False)
    assert missing.returncode == 1 and "unknown topic 'nope'" in missing.stderr
    size = run("--url", url, "backup", "orders", str(dest), "--object-size", "big", ok=False)
    assert size.returncode == 1 and "--object-size" in size.stderr
    assert not dest.exists()
    no_topic = run("--url", url, "restore", str(dest), ok=False)
    assert no_topic.returncode == 2 and "--topic" in no_topic.stderr
    nothing = run("--url", url, "restore", str(dest), "-t", "x", ok=False)
    assert nothing.returncode == 1 and "holds no backup" in nothing.stderr
    run("--url", url, "backup", "orders", str(dest))
    exists = run("--url", url, "restore", str(dest), "-t", "orders", ok=False)
    assert exists.returncode == 1 and "already exists" in exists.stderr
    assert run("--url", url, "topics", "list").stdout.split() == ["orders"]


def test_to_and_from_s3(run: Run, tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> None:
    _prepare(tmp_path, records=1000)
    url, dest = _data(tmp_path), f"s3://{s3_bucket}/logway/backups"
    env = s3_server.environment
    first = run("--url", url, "backup", "orders", dest, "--object-size", "8KB", env=env)
    assert "backed up 1000 record(s)" in first.stdout
    run("--url", url, "restore", dest, "-t", "orders-copy", env=env)
    with logway.connect(url) as broker:
        assert_same(broker, "orders", "orders-copy")
