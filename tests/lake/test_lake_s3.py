"""The lake in an S3 bucket (a real moto server), read through pyarrow's S3 filesystem."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import subprocess
import sys
from typing import Any

import cramjam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow import fs as pafs

from logway.errors import InvalidArgumentError
from logway.lake import Lake, S3ArrowFileSystem
from logway.objectstore import open_store
from tests.lake.lakedata import ARTICLE_ROWS, FILES_2026, build_lake

pytestmark = pytest.mark.slow  # an S3 server, and a real process for the CLI


@pytest.fixture
def s3_lake(s3_bucket: str) -> str:
    url = f"s3://{s3_bucket}/lake"
    build_lake(url)
    return url


class CountingS3(S3ArrowFileSystem):
    """Counts the bytes DuckDB reads from each object."""

    def __init__(self, fs: pafs.FileSystem) -> None:
        super().__init__(fs)
        self.read: dict[str, int] = {}

    def _open(self, path: str, *args: Any, **kwargs: Any) -> Any:
        self.read.setdefault(path, 0)
        return CountingFile(super()._open(path, *args, **kwargs), path, self.read)


class CountingFile:
    def __init__(self, file: Any, path: str, counts: dict[str, int]) -> None:
        self.file, self.path, self.counts = file, path, counts

    def read(self, n: int = -1) -> bytes:
        data: bytes = self.file.read(n)
        self.counts[self.path] += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)


def test_queries_over_s3(s3_lake: str) -> None:
    with Lake(s3_lake) as lake:
        assert lake.root == s3_lake
        assert lake.deliveries() == ["articles", "clicks"]
        result = lake.query(
            "SELECT year, count(*), count(lang) FROM lake('articles') GROUP BY year ORDER BY year"
        )
        assert result.rows == [(2025, 4, 0), (2026, 5, 5)]
        assert lake.query("SELECT count(*) FROM lake('articles')").rows == [(ARTICLE_ROWS,)]
        clicks = lake.query("SELECT page, ms FROM lake_json('clicks') ORDER BY page").rows
        assert clicks == [("/", 12), ("/a", 30), ("/b", 7), ("/c", 9)]  # plain, .gz, .zst
        for macro, name in (("lake", "articles"), ("lake_json", "clicks")):
            keys = lake.query(f"SELECT year, month, day, hour FROM {macro}('{name}')")
            assert keys.types == ["BIGINT"] * 4 and (2026, 1, 1, 0) in keys.rows, macro


def test_a_partition_filter_reads_fewer_files(s3_lake: str) -> None:
    with Lake(s3_lake) as lake:
        profile = lake.explain("SELECT count(*) FROM lake('articles') WHERE year = 2026")
        assert re.findall(r"Total Files Read: (\d+)", profile) == [str(FILES_2026)]
        everything = lake.explain("SELECT count(*) FROM lake('articles')")
        assert re.findall(r"Total Files Read: (\d+)", everything) == ["5"]


def test_skipped_partitions_cost_only_their_footers(s3_bucket: str) -> None:
    """Counted on the wire, not as DuckDB reports it: of a file in a partition the
    filter excludes, only the footer (the schema, for union_by_name) is read."""
    url = f"s3://{s3_bucket}/lake"
    store = open_store(url)
    sizes = {}
    for year in (2025, 2026):
        table = pa.table({"blob": [os.urandom(100).hex() for _ in range(5000)], "n": range(5000)})
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="none")  # about 1 MB
        path = f"big/year={year}/big+0.parquet"
        store.put(path, buffer.getvalue())
        sizes[year] = (store.full_path(path), len(buffer.getvalue()))
    with Lake(url) as lake:
        counting = CountingS3(lake.store.fs)
        lake.con.unregister_filesystem("s3")  # ours in place of the lake's own
        lake.con.register_filesystem(counting)
        rows = lake.query("SELECT count(*), sum(length(blob)) FROM lake('big') WHERE year = 2026")
        assert rows.rows == [(5000, 1_000_000)]
        skipped, kept = (counting.read.get(sizes[y][0], 0) for y in (2025, 2026))
        assert 0 < skipped < sizes[2025][1] / 10, counting.read
        assert kept >= sizes[2026][1] * 0.9, counting.read


def test_large_jsonl_objects_read_whole_and_in_order(s3_bucket: str) -> None:
    """Bigger than DuckDB's read buffer, so that several threads read one object."""
    url = f"s3://{s3_bucket}/lake"
    store = open_store(url)
    lines = b"".join(
        json.dumps({"n": n, "pad": "x" * 40}).encode() + b"\n" for n in range(100_000)
    )  # about 6 MB
    folder = "logs/year=2026/month=1"
    for name, data in [
        ("logs+0.jsonl", lines),
        ("logs+1.jsonl.gz", gzip.compress(lines)),
        ("logs+2.jsonl.zst", bytes(cramjam.zstd.compress(lines))),
    ]:
        with store.fs.open_output_stream(
            f"{store.full_path(folder)}/{name}", compression=None
        ) as out:
            out.write(data)
    with Lake(url) as lake:
        result = lake.query("SELECT count(*), count(DISTINCT n), max(n) FROM lake_json('logs')")
    assert result.rows == [(300_000, 100_000, 99_999)]


def test_errors_over_s3(s3_lake: str) -> None:
    with Lake(s3_lake) as lake:
        with pytest.raises(InvalidArgumentError, match="no delivery 'nope'; it has: articles"):
            lake.query("SELECT * FROM lake('nope')")
        with pytest.raises(InvalidArgumentError, match="invalid SQL"):
            lake.query("SELECT FROM WHERE")


def test_the_cli_over_s3(s3_lake: str) -> None:
    # the AWS variables of this process (set by s3_bucket) point the child at the server
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "logway.cli.main",
            "query",
            "SELECT _key, words FROM lake('articles') WHERE year = 2026 AND hour = 1",
            "--lake",
            s3_lake,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [{"_key": "k8", "words": 30}]
