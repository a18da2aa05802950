"""Object name prefixes: Hive-style date folders from the record timestamp (UTC), and
dynamic partitioning from the record (Firehose's ``!{timestamp:…}`` and
``!{partitionKeyFromQuery:…}``, written here as ``{year}`` and ``{value.customer_id}``).

Placeholders: ``{year} {month} {day} {hour} {minute}`` (of the record's timestamp),
``{topic} {partition} {key}``, ``{value.FIELD[.FIELD…]}`` (of a JSON value), and in
error prefixes ``{error_type}``. Field values are escaped so that each stays one folder.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from dataclasses import dataclass
from urllib.parse import quote

from logway.errors import InvalidArgumentError

DEFAULT_PREFIX = "year={year}/month={month}/day={day}/hour={hour}/"
DEFAULT_ERROR_PREFIX = "errors/{error_type}/year={year}/month={month}/day={day}/hour={hour}/"
DEFAULT_SOURCE_PREFIX = "source/year={year}/month={month}/day={day}/hour={hour}/"

# the time placeholders, each with the span of time one value of it covers
TIME_UNITS_MS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000}
TIME_FIELDS = ("year", "month", "day", "hour", "minute")
RECORD_FIELDS = ("topic", "partition", "key")
_FIELD = re.compile(r"^value(\.[A-Za-z_][A-Za-z0-9_\-]*)+$")


@dataclass(frozen=True)
class Prefix:
    template: str
    pieces: tuple[tuple[str, str | None], ...]  # literal text, then a placeholder or None

    @property
    def fields(self) -> list[str]:
        return [f for _, f in self.pieces if f is not None]

    @property
    def value_fields(self) -> list[str]:
        """The placeholders that read the value, e.g. "value.customer_id"."""
        return [f for f in self.fields if f.startswith("value.")]

    @property
    def needs_record(self) -> bool:
        """Whether the prefix differs between records beyond their timestamp."""
        return any(f not in TIME_FIELDS and f != "error_type" for f in self.fields)

    @property
    def time_unit_ms(self) -> int | None:
        """The span of time within which every record gets the same time folders."""
        fields = self.fields
        for unit in ("minute", "hour"):
            if unit in fields:
                return TIME_UNITS_MS[unit]
        return TIME_UNITS_MS["day"] if any(f in TIME_FIELDS for f in fields) else None

    def render(self, timestamp_ms: int, values: dict[str, str] | None = None) -> str:
        """The prefix of a record with this timestamp and these other placeholders."""
        when = dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.UTC)
        parts = {
            "year": f"{when.year:04d}",
            "month": f"{when.month:02d}",
            "day": f"{when.day:02d}",
            "hour": f"{when.hour:02d}",
            "minute": f"{when.minute:02d}",
        }
        if values:
            parts.update((k, _escape(v)) for k, v in values.items())
        return "".join(text + (parts[field] if field else "") for text, field in self.pieces)


def _escape(value: str) -> str:
    """One folder name: '/' and other unsafe characters percent-encoded, as Hive does."""
    text = quote(value, safe=" -_.,@:+~!$&'()*;")
    return "%2E" if text == "." else "%2E%2E" if text == ".." else text or "__EMPTY__"


def compile_prefix(template: object, name: str, errors: bool = False) -> Prefix:
    """Check a prefix template; ``InvalidArgumentError`` names what is wrong."""
    if not isinstance(template, str):
        raise InvalidArgumentError(f"{name} is a text template such as {DEFAULT_PREFIX!r}")
    if template.startswith("/") or ".." in template.split("/"):
        raise InvalidArgumentError(f"{name} {template!r} must stay inside the destination")
    pieces: list[tuple[str, str | None]] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidArgumentError(f"{name} {template!r} is not a valid template: {exc}") from None
    for text, field, spec, conversion in parsed:
        if field is not None:
            allowed = field in TIME_FIELDS or field in RECORD_FIELDS or _FIELD.match(field)
            if errors and field == "error_type":
                allowed = True
            if not allowed or spec or conversion:
                known = ", ".join(f"{{{f}}}" for f in (*TIME_FIELDS, *RECORD_FIELDS))
                raise InvalidArgumentError(
                    f"{name} {template!r} has an unknown placeholder {{{field}}}: use {known}, "
                    "{value.FIELD}" + (" or {error_type}" if errors else "")
                )
        pieces.append((text, field))
    if template and not template.endswith("/"):
        template += "/"
        pieces.append(("/", None))
    return Prefix(template, tuple(pieces))
