"""What a delivery's transform returns for each record, after Kinesis Data Firehose's
transformation contract: ``Ok`` with the new data, ``Dropped``, or
``ProcessingFailed`` (the record goes under the error prefix with the reason)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from logway.errors import InvalidArgumentError
from logway.records import Record


@dataclass(frozen=True)
class Ok:
    """The record, delivered with ``data``: bytes, text, or a dict/list (as JSON)."""

    data: bytes | str | dict[str, Any] | list[Any]


@dataclass(frozen=True)
class Dropped:
    """Leave the record out of the delivery; it counts as delivered."""


@dataclass(frozen=True)
class ProcessingFailed:
    """The record could not be transformed: it is written under the error prefix."""

    error: str = "processing failed"


Result = Ok | Dropped | ProcessingFailed


def check_results(results: object, records: list[Record]) -> list[Result]:
    """The transform's answer, one result per record in order, or a clear error."""
    if not isinstance(results, list | tuple) or len(results) != len(records):
        got = f"{len(results)} results" if isinstance(results, list | tuple) else repr(results)
        raise InvalidArgumentError(
            f"a delivery's transform returns one Ok, Dropped or ProcessingFailed per "
            f"record, in order: it got {len(records)} records and returned {got}"
        )
    for r in results:
        if not isinstance(r, Ok | Dropped | ProcessingFailed):
            raise InvalidArgumentError(
                f"a delivery's transform returns Ok, Dropped or ProcessingFailed, not {r!r}"
            )
    return list(results)


def data_bytes(data: bytes | str | dict[str, Any] | list[Any]) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, dict | list):
        return json.dumps(data, separators=(",", ":")).encode()
    raise InvalidArgumentError(f"Ok(data) takes bytes, text, a dict or a list, not {data!r}")
