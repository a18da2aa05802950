"""The table, CSV and JSON renderings of ``logway query``, on values DuckDB returns."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest

from logway.cli.query import to_json, to_table, write_csv
from logway.lake import QueryResult, query

TRICKY = """
SELECT 1 AS n, 'plain' AS s, NULL AS nothing, TRUE AS flag, 2.50::DECIMAL(6, 2) AS price,
       TIMESTAMPTZ '2026-01-01 10:00:00+02' AS at, DATE '2026-01-02' AS day,
       'comma, "quote"' || chr(10) || 'next line' AS text,
       '\\xFF\\x00'::BLOB AS raw, 'hi'::BLOB AS rawtext, [1, 2] AS list, {'a': 1} AS struct,
       'NaN'::DOUBLE AS nan
UNION ALL
SELECT 22, 'x', NULL, FALSE, 10, NULL, NULL, '', NULL, NULL, [], NULL, 1.5
"""


@pytest.fixture(scope="module")
def tricky(tmp_path_factory: pytest.TempPathFactory) -> QueryResult:
    return query(TRICKY, str(tmp_path_factory.mktemp("empty")))


def test_json_is_one_array_of_objects_in_column_order(tricky: QueryResult) -> None:
    rows = json.loads(to_json(tricky))
    assert list(rows[0]) == tricky.columns
    assert rows[0] == {
        "n": 1,
        "s": "plain",
        "nothing": None,
        "flag": True,
        "price": 2.5,
        "at": "2026-01-01T08:00:00+00:00",  # in UTC
        "day": "2026-01-02",
        "text": 'comma, "quote"\nnext line',
        "raw": "base64:/wA=",
        "rawtext": "hi",
        "list": [1, 2],
        "struct": {"a": 1},
        "nan": "NaN",
    }
    assert rows[1]["price"] == 10 and rows[1]["list"] == [] and rows[1]["nan"] == 1.5
    assert dt.datetime.fromisoformat(rows[0]["at"]) == dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC)


def test_csv_is_rfc_4180(tricky: QueryResult, capsys: pytest.CaptureFixture[str]) -> None:
    write_csv(tricky)
    out = capsys.readouterr().out
    assert out.startswith("n,s,nothing,flag,price,at,day,text,raw,rawtext,list,struct,nan\r\n")
    assert '"comma, ""quote""\nnext line"' in out  # quoted, quotes doubled, newline kept
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert len(rows) == 3
    assert rows[1] == [
        "1",
        "plain",
        "",
        "true",
        "2.50",
        "2026-01-01T08:00:00+00:00",
        "2026-01-02",
        'comma, "quote"\nnext line',
        "base64:/wA=",
        "hi",
        "[1, 2]",
        '{"a": 1}',
        "nan",
    ]


def test_table_aligns_columns_and_counts_rows(tricky: QueryResult) -> None:
    lines = to_table(tricky).splitlines()
    header, rule, first, second, count = lines
    assert header.split() == tricky.columns
    assert set(rule.replace(" ", "")) == {"-"}
    assert count == "(2 rows)"
    # numbers to the right, text to the left, each column starting where its header does
    assert first.startswith(" 1  plain") and second.startswith("22  x    ")
    for name in ("nothing", "flag", "text"):
        start = header.index(name)
        assert header[start - 2 : start] == "  "
    assert first[header.index("nothing") :].startswith("NULL")
    assert 'comma, "quote"\\nnext line' in first  # one line per row


def test_table_shortens_long_values(tmp_path: Path) -> None:
    result = query("SELECT repeat('x', 500) AS long, 'y' AS short", str(tmp_path))
    row = to_table(result).splitlines()[2]
    assert row == "x" * 79 + "…  y"


def test_a_statement_without_columns_prints_ok() -> None:
    assert to_table(QueryResult([], [], [])) == "OK"
