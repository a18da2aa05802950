"""A small lake as delivery streams lay it out, written with pyarrow through
``open_store(url).fs`` (a directory or an S3 bucket alike).

``articles`` is a Parquet delivery: year=2025 (two files, fields ``title`` and
``words``) and year=2026 (three files in two hours, which add ``lang``), beside an
``errors/`` prefix of JSONL. ``clicks`` is a JSONL delivery, plain, gzip and zstd.
Folders are zero-padded (``month=01``), as deliveries write them."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from typing import Any

import cramjam
import pyarrow as pa
import pyarrow.parquet as pq

from logway.objectstore import ObjectStore, open_store

UTC = dt.UTC

# (partition folder, rows of one file); each row is (title, words, lang or None)
ARTICLE_FILES: list[tuple[str, list[tuple[str, int, str | None]]]] = [
    ("year=2025/month=12/day=31/hour=23", [("old news", 120, None), ("year review", 900, None)]),
    ("year=2025/month=12/day=31/hour=23", [("fireworks", 80, None), ("last call", 40, None)]),
    ("year=2026/month=01/day=01/hour=00", [("new year", 300, "en"), ("neujahr", 250, "de")]),
    ("year=2026/month=01/day=01/hour=00", [("resolutions", 500, "en"), ("brunch", 60, "en")]),
    ("year=2026/month=01/day=01/hour=01", [("hangover", 30, "en")]),
]
ARTICLE_ROWS = sum(len(rows) for _, rows in ARTICLE_FILES)  # 9
FILES_2026 = sum(1 for folder, _ in ARTICLE_FILES if folder.startswith("year=2026"))  # 3


def _timestamp(folder: str, n: int) -> dt.datetime:
    parts = dict(p.split("=") for p in folder.split("/"))
    hour = dt.datetime(
        int(parts["year"]), int(parts["month"]), int(parts["day"]), int(parts["hour"]), tzinfo=UTC
    )
    return hour + dt.timedelta(minutes=n)


def build_lake(url: str) -> None:
    """Write the lake under ``url`` (a directory or s3://bucket/prefix)."""
    store = open_store(url)
    offset = 0
    for folder, rows in ARTICLE_FILES:
        first = offset
        columns: dict[str, Any] = {
            "title": [r[0] for r in rows],
            "words": pa.array([r[1] for r in rows], pa.int64()),
        }
        if folder.startswith("year=2026"):  # a field added to the schema later
            columns["lang"] = [r[2] for r in rows]
        columns |= {
            "_topic": ["articles"] * len(rows),
            "_partition": pa.array([0] * len(rows), pa.int32()),
            "_offset": pa.array(range(first, first + len(rows)), pa.int64()),
            "_timestamp": pa.array(
                [_timestamp(folder, i) for i in range(len(rows))], pa.timestamp("ms", tz="UTC")
            ),
            "_key": [f"k{first + i}" for i in range(len(rows))],
        }
        offset += len(rows)
        name = f"articles+0+{first:020d}+{offset - 1:020d}+{first:08x}.parquet"
        buffer = io.BytesIO()
        pq.write_table(pa.table(columns), buffer)
        _write(store, f"articles/{folder}/{name}", buffer.getvalue())
    # records that failed delivery: JSONL under errors/, never part of lake('articles')
    _write(
        store,
        "articles/errors/year=2026/month=01/day=01/hour=00/articles-failed.jsonl",
        b'{"errorCode": "Transform.Failed", "rawData": "eyJ0aXRsZSI6IG51bGx9"}\n',
    )

    clicks = "clicks/year=2026/month=01/day=01/hour=00/clicks+0"
    _write(store, f"{clicks}+0.jsonl", _jsonl([{"page": "/", "ms": 12}, {"page": "/a", "ms": 30}]))
    _write(store, f"{clicks}+2.jsonl.gz", gzip.compress(_jsonl([{"page": "/b", "ms": 7}])))
    zst = cramjam.zstd.compress(_jsonl([{"page": "/c", "ms": 9, "referrer": "search"}]))
    _write(store, f"{clicks}+3.jsonl.zst", bytes(zst))
    _write(
        store,
        "clicks/errors/year=2026/month=01/day=01/hour=00/clicks-failed.jsonl",
        b'{"errorCode": "Transform.Failed", "rawData": "bm90IGpzb24="}\n',
    )


def _write(store: ObjectStore, path: str, data: bytes) -> None:
    """``data`` byte for byte. (``ObjectStore.put`` on S3 lets pyarrow compress again
    what a ``.gz`` or ``.zst`` name says is compressed already.)"""
    if store.scheme == "file":
        store.put(path, data)
        return
    with store.fs.open_output_stream(store.full_path(path), compression=None) as out:
        out.write(data)


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)
