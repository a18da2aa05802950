"""Every compression a delivery offers writes files the usual tools read back:
Parquet with snappy, zstd, gzip or none; JSON lines plain, gzip or zstd."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import cramjam
import pyarrow.parquet as pq
import pytest

import logway
from logway.delivery.runner import DeliveryRunner
from logway.delivery.settings import DeliverySettings, DeliverySpec


def _deliver(tmp_path: Path, **settings: object) -> Path:
    lake = tmp_path / "lake"
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        broker.create_topic("t")
        broker.produce_many("t", [json.dumps({"n": n, "s": "x" * n}) for n in range(50)])
        spec = DeliverySpec("t", "t", DeliverySettings.build(str(lake), **settings))
        runner = DeliveryRunner(broker, "formats", spec, until_end=True)
        asyncio.run(runner.run(asyncio.Event()))
        assert runner.stats.records_delivered == 50, runner.status()
    return lake


@pytest.mark.parametrize("compression", ["snappy", "zstd", "gzip", "none"])
def test_parquet_compressions(tmp_path: Path, compression: str) -> None:
    lake = _deliver(tmp_path, compression=compression)
    (path,) = [p for p in lake.rglob("*.parquet")]
    codec = pq.ParquetFile(path).metadata.row_group(0).column(0).compression
    assert codec == {"none": "UNCOMPRESSED"}.get(compression, compression.upper())
    assert [r["n"] for r in pq.read_table(path).to_pylist()] == list(range(50))


@pytest.mark.parametrize(
    "compression, suffix",
    [("none", ".jsonl"), ("gzip", ".jsonl.gz"), ("zstd", ".jsonl.zst")],
)
def test_jsonl_compressions(tmp_path: Path, compression: str, suffix: str) -> None:
    lake = _deliver(tmp_path, format="jsonl", compression=compression)
    (path,) = [p for p in lake.rglob("*.jsonl*")]
    assert path.name.endswith(suffix)
    data = path.read_bytes()
    if compression == "gzip":
        data = gzip.decompress(data)
    elif compression == "zstd":
        data = bytes(cramjam.zstd.decompress(data))
    assert [json.loads(line)["n"] for line in data.splitlines()] == list(range(50))


def test_keys_that_are_not_utf8_are_escaped_not_lost(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        broker.create_topic("t")
        broker.produce_many(
            "t",
            [
                logway.Message(b'{"n": 0}', b"caf\xc3\xa9"),
                logway.Message(b'{"n": 1}', b"\xff\x00"),
                logway.Message(b'{"n": 2}', None),
            ],
        )
        spec = DeliverySpec("t", "t", DeliverySettings.build(str(lake)))
        asyncio.run(DeliveryRunner(broker, "keys", spec, until_end=True).run(asyncio.Event()))
    (path,) = list(lake.rglob("*.parquet"))
    assert pq.read_table(path).column("_key").to_pylist() == ["café", "\\xff\x00", None]
