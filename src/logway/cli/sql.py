"""``logway sql "SELECT …"``: run a continuous query and print its rows as windows
close (or as records come, without a window), until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from logway.cli.common import open_broker
from logway.errors import InvalidArgumentError
from logway.units import parse_duration_ms


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sql = sub.add_parser(
        "sql",
        help="run a continuous SQL query over a topic and print its rows (until Ctrl-C)",
        description="Run a continuous query: SELECT … FROM TUMBLE(topic, DESCRIPTOR(ts), "
        "INTERVAL '1' MINUTE) GROUP BY …, window_start, window_end (HOP, CUMULATE and "
        "SESSION too), or SELECT … FROM topic WHERE … record by record. Rows are printed "
        "as JSON lines as windows close; records that cannot be read as rows are reported "
        "on stderr. To produce rows to a topic, declare the query in an app (app.sql).",
    )
    sql.add_argument("statement", help="the SELECT statement")
    sql.add_argument(
        "-b",
        "--from-beginning",
        action="store_true",
        help="read the topic from its earliest record (default: only new records)",
    )
    sql.add_argument(
        "-c",
        "--column",
        action="append",
        default=[],
        metavar="NAME=TYPE",
        help="a column's type (DuckDB's: DOUBLE, BIGINT, VARCHAR, TIMESTAMP, …); repeat it; "
        "without any, types are taken from the first record",
    )
    sql.add_argument("--grace", default="0s", help="allowed lateness of event time (default 0s)")
    sql.add_argument(
        "--idle",
        default="10s",
        help="close windows with the wall clock after this long without records (default 10s)",
    )
    sql.add_argument("-n", "--max-rows", type=int, help="stop after printing this many rows")
    sql.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from logway.windows.sql import ContinuousQuery
    from logway.windows.sqlrun import SqlRunner, SqlSpec

    query = ContinuousQuery.parse(args.statement)
    if query.target is not None:
        raise InvalidArgumentError(
            "logway sql prints rows; to produce them to a topic, declare the query in an app: "
            f'app.sql("INSERT INTO {query.target} SELECT …") and run it with logway run'
        )
    columns: dict[str, str] | None = None
    if args.column:
        columns = {}
        for item in args.column:
            name, sep, sql_type = item.partition("=")
            if not sep or not name.strip() or not sql_type.strip():
                raise InvalidArgumentError(f"--column takes NAME=TYPE, not {item!r}")
            columns[name.strip()] = sql_type.strip()
    if args.max_rows is not None and args.max_rows < 1:
        raise InvalidArgumentError(f"--max-rows must be at least 1, not {args.max_rows}")
    spec = SqlSpec(
        "sql",
        query,
        columns=columns,
        grace_ms=parse_duration_ms(args.grace, "grace"),
        idle_ms=parse_duration_ms(args.idle, "idle"),
        starting_position="earliest" if args.from_beginning else "latest",
    )
    stop = threading.Event()
    printed = 0

    def sink(rows: list[dict[str, Any]]) -> None:
        nonlocal printed
        from logway.windows.sqlrows import json_default

        for row in rows:
            if args.max_rows is not None and printed >= args.max_rows:
                stop.set()
                return
            print(json.dumps(row, default=json_default), flush=True)
            printed += 1
        if args.max_rows is not None and printed >= args.max_rows:
            stop.set()

    def report(text: str) -> None:
        print(f"logway: {text}", file=sys.stderr, flush=True)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with open_broker(args) as broker:
        broker.describe_topic(query.source)  # a clear error for a topic that is not there
        SqlRunner(broker, "logway-sql", spec, sink=sink, report=report).run_until(stop)
    return 0
