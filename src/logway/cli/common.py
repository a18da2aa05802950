"""Helpers shared by the CLI commands: opening the broker, parsing times, output."""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import logging
import sys
from typing import Any

import logway
from logway.errors import InvalidArgumentError
from logway.records import Record
from logway.units import parse_duration_ms


def open_broker(args: argparse.Namespace) -> logway.Broker:
    return logway.connect(args.url)


def parse_time(text: str) -> dt.datetime:
    """An ISO-8601 time (naive means UTC) or a duration ago such as ``10m`` or ``2h``."""
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        try:
            ago = parse_duration_ms(text, "time")
        except InvalidArgumentError:
            raise InvalidArgumentError(
                f"cannot read {text!r} as a time; use ISO 8601 (2026-11-23T10:00:00) or a "
                "duration ago such as 10m, 2h or 7d"
            ) from None
        return dt.datetime.now(dt.UTC) - dt.timedelta(milliseconds=ago)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def parse_pairs(pairs: list[str] | None, what: str) -> list[tuple[str, str]]:
    out = []
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidArgumentError(f"{what} must look like NAME=VALUE, not {pair!r}")
        out.append((name, value))
    return out


def _text(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode()}


def record_json(record: Record) -> str:
    return json.dumps(
        {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "timestamp": record.timestamp,
            "key": _text(record.key),
            "value": _text(record.value),
            "headers": [[k, _text(v)] for k, v in record.headers],
        },
        ensure_ascii=False,
    )


def write_raw(record: Record, key_separator: str | None) -> None:
    out = sys.stdout.buffer
    if key_separator is not None:
        out.write((record.key or b"") + key_separator.encode())
    out.write(record.value or b"")
    out.write(b"\n")


def table(rows: list[list[Any]], headers: list[str]) -> str:
    cells = [headers] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def log_to_stderr(name: str, prefix: str) -> None:
    """The INFO and higher messages of the logger ``name`` on stderr, each line
    beginning with ``prefix``."""
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(prefix + "%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
