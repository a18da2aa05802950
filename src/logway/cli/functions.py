"""``logway functions list|status|enable|disable``: what running functions do, and their
on/off switch (a function is named ``<app>.<function>``, its consumer group)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from logway.broker import Broker
from logway.cli.common import open_broker, table
from logway.errors import UnknownGroupError
from logway.functions import control


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    functions = sub.add_parser("functions", help="functions: figures, lag, enable/disable")
    fsub = functions.add_subparsers(dest="action", required=True, metavar="ACTION")
    fsub.add_parser(
        "list", help="every function running now, a line per function and process"
    ).set_defaults(run=list_functions)
    status = fsub.add_parser("status", help="one function: figures, lag per partition, errors")
    status.add_argument("name", metavar="APP.FUNCTION")
    status.set_defaults(run=function_status)
    for action, enabled in (("enable", True), ("disable", False)):
        switch = fsub.add_parser(
            action, help=f"{action} a function in every process running it (position kept)"
        )
        switch.add_argument("name", metavar="APP.FUNCTION")
        switch.set_defaults(run=switch_function, enabled=enabled)


def _state(status: dict[str, Any], now_ms: int) -> str:
    age = control.silent_for(status, now_ms)
    if age > control.SILENT_AFTER_S:
        return f"silent {age:.0f}s"  # the process stopped reporting (killed?)
    return str(status.get("state", "?"))


def _lag(broker: Broker, name: str) -> int | None:
    try:
        return sum(x.lag for x in broker.lag(name))
    except UnknownGroupError:
        return None


def list_functions(args: argparse.Namespace) -> int:
    now = int(time.time() * 1000)
    with open_broker(args) as broker:
        reported = control.latest_status(broker)
        statuses = control.running_status(broker, now)
        switches = control.latest_commands(broker)
        rows = []
        for (name, process), s in sorted(statuses.items()):
            rows.append(
                [
                    name,
                    _state(s, now),
                    "on" if switches.get(name, s.get("enabled", True)) else "off",
                    process,
                    s.get("invocations", 0),
                    s.get("errors", 0),
                    s.get("records_in", 0),
                    s.get("records_filtered", 0),
                    s.get("records_dead_lettered", 0),
                    _ms(s.get("duration_ms_p50")),
                    _ms(s.get("duration_ms_p99")),
                    _lag(broker, name),
                ]
            )
    headers = ["FUNCTION", "STATE", "SWITCH", "PROCESS", "INVOKED", "ERRORS", "IN"]
    headers += ["FILTERED", "FAILED", "P50 MS", "P99 MS", "LAG"]
    if rows:
        print(table(rows, headers))
    else:
        print("no function is running" if reported else "no function has reported yet")
    return 0


def function_status(args: argparse.Namespace) -> int:
    now = int(time.time() * 1000)
    with open_broker(args) as broker:
        if not any(n == args.name for n, _ in control.latest_status(broker)):
            raise UnknownGroupError(
                f"no function {args.name!r} has reported; names are APP.FUNCTION "
                "(see logway functions list)"
            )
        running = control.running_status(broker, now)
        statuses = {p: s for (n, p), s in running.items() if n == args.name}
        switch = control.latest_commands(broker).get(args.name)
        try:
            lags = broker.lag(args.name)
        except UnknownGroupError:  # it has not committed anything yet
            lags = []
        oldest = {}
        for x in lags:
            if x.lag > 0 and x.committed is not None:
                records = broker.fetch(x.topic, x.partition, x.committed, max_records=1)
                if records:
                    oldest[(x.topic, x.partition)] = (now - records[0].timestamp) / 1000
    print(f"function {args.name}: switch {'on' if switch in (None, True) else 'off'}")
    if not statuses:
        print("  no process runs it now")
    for process, s in sorted(statuses.items()):
        print(
            f"  {process}: {_state(s, now)}, partitions {s.get('partitions')}, "
            f"{s.get('invocations', 0)} invocations, {s.get('errors', 0)} errors, "
            f"{s.get('records_in', 0)} records in, {s.get('records_filtered', 0)} filtered, "
            f"{s.get('records_dead_lettered', 0)} to on_failure, "
            f"duration p50 {_ms(s.get('duration_ms_p50'))} ms, "
            f"p99 {_ms(s.get('duration_ms_p99'))} ms"
        )
        if s.get("last_error"):
            print(f"    last error: {s['last_error']}")
    rows = [
        [
            x.topic,
            x.partition,
            x.committed,
            x.end_offset,
            x.lag,
            f"{oldest[(x.topic, x.partition)]:.1f}" if (x.topic, x.partition) in oldest else "-",
        ]
        for x in lags
    ]
    headers = ["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "OLDEST UNPROCESSED S"]
    print(table(rows, headers) if rows else "  nothing committed yet")
    return 0


def switch_function(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        control.set_enabled(broker, args.name, args.enabled)
    state = "enabled" if args.enabled else "disabled"
    print(f"{args.name} {state}: every process running it follows within a second")
    return 0


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:g}"
