"""``logway query SQL``: SQL over the data lake of delivery streams, with DuckDB.

``lake('articles')`` is the Parquet files of the delivery ``articles``, with its
partition keys (``year``, ``month``, ...) as columns; ``lake_json('articles')`` reads
a JSONL delivery. Output is an aligned table, CSV (RFC 4180) or one JSON array."""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import decimal
import json
import math
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logway.lake import QueryResult

DEFAULT_LAKE = "./lake"
MAX_CELL = 80  # characters of a value shown in table output; csv and json keep it whole


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(
        "query",
        help="run SQL over the data lake (lake('name') reads a delivery's Parquet files)",
        description=(
            "Run SQL over the data lake with DuckDB. lake('NAME') is the Parquet files of "
            "the delivery NAME, with its partition keys (year, month, ...) as columns; "
            "lake_json('NAME') reads a JSONL delivery."
        ),
    )
    cmd.add_argument(
        "sql",
        metavar="SQL",
        help="the query, e.g. \"SELECT count(*) FROM lake('articles') WHERE year = 2026\"; "
        "- reads it from stdin",
    )
    cmd.add_argument(
        "--lake",
        metavar="URL",
        help=f"the lake root: a directory, file:PATH or s3://bucket/prefix "
        f"(default $LOGWAY_LAKE, else {DEFAULT_LAKE})",
    )
    cmd.add_argument(
        "-f",
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="aligned columns (default), CSV with a header row, or one JSON array of objects",
    )
    cmd.add_argument(
        "--explain",
        action="store_true",
        help="run the query under EXPLAIN ANALYZE and print DuckDB's profile "
        "(operators, rows, time, files read)",
    )
    cmd.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    sql = sys.stdin.read() if args.sql == "-" else args.sql
    url = args.lake or os.environ.get("LOGWAY_LAKE") or DEFAULT_LAKE
    from logway.lake import open_lake  # DuckDB loads only for this command

    with open_lake(url) as lake:
        if args.explain:
            print(lake.explain(sql))
            return 0
        result = lake.query(sql)
    if args.format == "csv":
        write_csv(result)
    elif args.format == "json":
        print(to_json(result))
    else:
        print(to_table(result))
    return 0


def to_table(result: QueryResult) -> str:
    """Columns aligned for a terminal, numbers to the right, and a count of rows."""
    if not result.columns:
        return "OK"
    right = [_is_number(t) for t in result.types]
    cells = [result.columns] + [[_table_cell(v) for v in row] for row in result.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(result.columns))]
    lines = []
    for n, row in enumerate(cells):
        line = "  ".join(
            c.rjust(w) if right[i] and n > 0 else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        lines.append(line.rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    count = len(result.rows)
    lines.append(f"({count} row{'' if count == 1 else 's'})")
    return "\n".join(lines)


def write_csv(result: QueryResult) -> None:
    """RFC 4180: a header row, then one row per record, CRLF line ends; NULL is empty."""
    writer = csv.writer(sys.stdout, lineterminator="\r\n")
    if result.columns:
        writer.writerow(result.columns)
    writer.writerows([_text(v) for v in row] for row in result.rows)


def to_json(result: QueryResult) -> str:
    """One JSON array with an object per row, keys in column order."""
    rows = [
        {c: _json_value(v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows
    ]
    return json.dumps(rows, ensure_ascii=False, indent=None)


_NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)


def _is_number(duckdb_type: str) -> bool:
    return duckdb_type.split("(", 1)[0] in _NUMERIC


def _table_cell(value: Any) -> str:
    if value is None:
        return "NULL"
    text = _text(value)
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _text(value: Any) -> str:
    """A value as one CSV or table cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return _bytes_text(value)
    if isinstance(value, list | dict | tuple):
        return json.dumps(_json_value(value), ensure_ascii=False)
    return str(value)


def _json_value(value: Any) -> Any:
    """A value as JSON has it: times as ISO 8601, bytes as text (or base64), NaN as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, decimal.Decimal):
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        return as_float if decimal.Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return _bytes_text(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        # a MAP arrives as a list of (key, value) pairs
        return [_json_value(v) for v in value]
    return str(value)  # UUID, INTERVAL, ...


def _bytes_text(data: bytes) -> str:
    """UTF-8 text as it is; anything else as ``base64:`` and its base64."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode()
