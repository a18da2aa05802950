"""SQL over a lake in a directory: results, partition pruning, schema changes, errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import logway
from logway.delivery.runner import DeliveryRunner
from logway.delivery.settings import DeliverySettings, DeliverySpec
from logway.errors import InvalidArgumentError
from logway.lake import Lake, explain, query
from tests.lake.lakedata import ARTICLE_FILES, ARTICLE_ROWS, FILES_2026, build_lake


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("lake")
    build_lake(str(root))
    return str(root)


@pytest.fixture
def lake(lake_dir: str) -> Iterator[Lake]:
    with Lake(lake_dir) as lake:
        yield lake


def files_read(profile: str) -> int:
    """The files DuckDB's scans opened, from an EXPLAIN ANALYZE profile."""
    counts = re.findall(r"Total Files Read: (\d+)", profile)
    assert counts, profile
    return sum(int(n) for n in counts)


def test_every_file_is_read_with_partition_keys_as_columns(lake: Lake) -> None:
    result = lake.query(
        "SELECT year, count(*), sum(words) FROM lake('articles') GROUP BY 1 ORDER BY 1"
    )
    assert result.columns == ["year", "count_star()", "sum(words)"]
    assert result.rows == [(2025, 4, 1140), (2026, 5, 1140)]
    assert lake.query("SELECT count(*) FROM lake('articles')").rows == [(ARTICLE_ROWS,)]


def test_rows_keep_their_values_and_metadata(lake: Lake) -> None:
    result = lake.query(
        "SELECT title, _topic, _partition, _offset, _timestamp, _key, hour "
        "FROM lake('articles') WHERE _offset = 8"
    )
    assert result.rows == [
        ("hangover", "articles", 0, 8, dt.datetime(2026, 1, 1, 1, tzinfo=dt.UTC), "k8", 1)
    ]
    assert result.types[result.columns.index("_timestamp")] == "TIMESTAMP WITH TIME ZONE"
    offsets = lake.query("SELECT _offset FROM lake('articles') ORDER BY _offset").rows
    assert [o for (o,) in offsets] == list(range(ARTICLE_ROWS))


def test_a_field_added_later_is_null_in_older_files(lake: Lake) -> None:
    result = lake.query(
        "SELECT year, count(lang), count(*) FROM lake('articles') GROUP BY year ORDER BY year"
    )
    assert result.rows == [(2025, 0, 4), (2026, 5, 5)]
    assert lake.query("SELECT title FROM lake('articles') WHERE lang = 'de'").rows == [("neujahr",)]


def test_a_partition_filter_reads_only_the_matching_files(lake: Lake) -> None:
    everything = files_read(lake.explain("SELECT count(*) FROM lake('articles')"))
    one_year = files_read(lake.explain("SELECT count(*) FROM lake('articles') WHERE year = 2026"))
    one_hour = files_read(
        lake.explain("SELECT count(*) FROM lake('articles') WHERE year = 2026 AND hour = 1")
    )
    assert everything == len(ARTICLE_FILES) == 5
    assert one_year == FILES_2026 == 3
    assert one_hour == 1
    # a filter on a value column cannot skip folders
    assert files_read(lake.explain("SELECT * FROM lake('articles') WHERE words > 100")) == 5


def test_time_keys_are_integers_in_parquet_and_jsonl(lake: Lake) -> None:
    for sql in (
        "SELECT year, month, day, hour FROM lake('articles') ORDER BY ALL",
        "SELECT year, month, day, hour FROM lake_json('clicks') ORDER BY ALL",
    ):
        result = lake.query(sql)
        assert result.types == ["BIGINT"] * 4, sql
        assert (2026, 1, 1, 0) in result.rows, sql
    one_hour = "SELECT count(*) FROM lake('articles') WHERE month = 1 AND day = 1 AND hour = 0"
    assert lake.query(one_hour).rows == [(4,)]
    assert files_read(lake.explain(one_hour)) == 2  # the filter still chooses the files


def test_a_delivery_without_time_folders_or_by_the_minute(tmp_path: Path) -> None:
    by_customer = tmp_path / "orders" / "customer=7"
    by_customer.mkdir(parents=True)
    pq.write_table(pa.table({"n": [1]}), by_customer / "a.parquet")
    by_minute = tmp_path / "clicks" / "year=2026" / "minute=05"
    by_minute.mkdir(parents=True)
    (by_minute / "a.jsonl").write_text('{"n": 2}\n')
    with Lake(str(tmp_path)) as lake:
        orders = lake.query("SELECT n, customer FROM lake('orders')")
        assert (orders.rows, orders.types) == ([(1, 7)], ["BIGINT", "BIGINT"])
        clicks = lake.query("SELECT n, year, minute FROM lake_json('clicks')")
        assert (clicks.rows, clicks.types) == ([(2, 2026, 5)], ["BIGINT"] * 3)


def test_a_deliverys_own_lake_has_integer_time_keys(tmp_path: Path) -> None:
    """Records of 3 March (``day=03``, ``month=03``, ``hour=04``) delivered as Parquet
    and as JSONL: every time key reads back as the same BIGINT."""
    stamp = int(dt.datetime(2026, 3, 3, 4, 5, tzinfo=dt.UTC).timestamp() * 1000)
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        broker.create_topic("events")
        broker.produce_many(
            "events",
            [logway.Message(json.dumps({"n": n}).encode(), timestamp=stamp) for n in range(3)],
        )
        for fmt in ("parquet", "jsonl"):
            settings = DeliverySettings.build(str(tmp_path / "lake" / fmt), format=fmt)
            runner = DeliveryRunner(broker, "t", DeliverySpec(fmt, "events", settings), True)
            asyncio.run(runner.run(asyncio.Event()))
    with Lake(str(tmp_path / "lake")) as lake:
        for macro, name in (("lake", "parquet"), ("lake_json", "jsonl")):
            result = lake.query(f"SELECT DISTINCT year, month, day, hour FROM {macro}('{name}')")
            assert (result.rows, result.types) == ([(2026, 3, 3, 4)], ["BIGINT"] * 4), macro


def test_jsonl_deliveries_plain_gzip_and_zstd(lake: Lake) -> None:
    result = lake.query("SELECT page, ms, referrer, year FROM lake_json('clicks') ORDER BY page")
    assert result.rows == [
        ("/", 12, None, 2026),
        ("/a", 30, None, 2026),
        ("/b", 7, None, 2026),
        ("/c", 9, "search", 2026),
    ]


def test_the_errors_prefix_is_never_read(lake: Lake) -> None:
    for sql in ("SELECT * FROM lake('articles')", "SELECT * FROM lake_json('clicks')"):
        result = lake.query(sql)
        assert "errorCode" not in result.columns and "rawData" not in result.columns


def test_several_statements_return_the_last_ones_rows(lake: Lake) -> None:
    result = lake.query(
        "CREATE TABLE recent AS SELECT * FROM lake('articles') WHERE year = 2026; "
        "SELECT count(*) AS n FROM recent"
    )
    assert result.columns == ["n"] and result.rows == [(5,)]
    assert lake.query("CREATE TABLE t (a INTEGER)").rows == []
    assert lake.query("INSERT INTO t VALUES (1), (2)").rows == [(2,)]  # rows inserted


def test_explain_runs_the_statements_before_the_last(lake: Lake) -> None:
    profile = lake.explain("CREATE TABLE x AS SELECT 1 AS a; SELECT a FROM x")
    assert "x" in profile and "Total Time" in profile


def test_the_module_functions_open_and_close_a_lake(lake_dir: str) -> None:
    assert query("SELECT count(*) FROM lake('articles')", f"file:{lake_dir}").rows == [(9,)]
    assert files_read(explain("SELECT * FROM lake('articles') WHERE year = 2025", lake_dir)) == 2


def test_an_unknown_delivery_names_the_ones_there_are(lake: Lake) -> None:
    with pytest.raises(InvalidArgumentError, match="no delivery 'nope'; it has: articles, clicks"):
        lake.query("SELECT * FROM lake('nope')")
    with pytest.raises(InvalidArgumentError, match="no delivery 'nope'"):
        lake.explain("SELECT * FROM lake_json('nope')")


def test_the_wrong_format_points_at_the_other_macro(lake: Lake) -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"no Parquet files .* use lake_json\('clicks'\)"
    ):
        lake.query("SELECT * FROM lake('clicks')")
    with pytest.raises(InvalidArgumentError, match=r"no JSONL files .* use lake\('articles'\)"):
        lake.query("SELECT * FROM lake_json('articles')")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC 1", r'invalid SQL: Parser Error: syntax error at or near "SELEC"$'),
        ("SELECT nope FROM lake('articles')", r'invalid SQL: .*"nope" not found'),
        ("SELECT * FROM missing_table", "invalid SQL: Catalog Error: .*missing_table"),
        ("SELECT CAST('x' AS INTEGER)", "the query failed: Conversion Error"),
        ("  ", "the SQL is empty"),
    ],
)
def test_bad_sql_is_refused_in_one_line(lake: Lake, sql: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        lake.query(sql)
    assert "\n" not in str(caught.value) and "LINE 1" not in str(caught.value)


def test_a_lake_that_does_not_exist(tmp_path: Path) -> None:
    with Lake(str(tmp_path / "nowhere")) as lake:
        assert lake.query("SELECT 42").rows == [(42,)]  # SQL without the lake still runs
        assert lake.deliveries() == []
        with pytest.raises(InvalidArgumentError, match=r"there is no lake at .*nowhere"):
            lake.query("SELECT * FROM lake('articles')")
    with (
        Lake(str(tmp_path)) as lake,
        pytest.raises(InvalidArgumentError, match="it holds no deliveries"),
    ):
        lake.query("SELECT * FROM lake('articles')")


def test_a_root_with_a_quote_in_its_name(tmp_path: Path) -> None:
    root = tmp_path / "o'brien lake"
    build_lake(str(root))
    assert query("SELECT count(*) FROM lake('articles')", str(root)).rows == [(9,)]
