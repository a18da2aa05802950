"""What a notification says: a record's value as it is, a template filled from its
JSON fields, or what a ``shape`` function makes of the record.

A ``str`` template is filled as ``str.format`` does (``"{customer.name} paid
{total:.2f}"``; ``{a.b}`` and ``{a[b]}`` both reach nested fields); a
``string.Template`` fills ``$field`` and ``${field}``. Besides the value's fields,
``_topic``, ``_partition``, ``_offset``, ``_timestamp`` and ``_key`` name where the
record is.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Mapping
from typing import Any

from logway.errors import InvalidArgumentError
from logway.records import Record

Content = dict[str, Any] | list[Any] | str | bytes
Template = str | string.Template


class RenderError(Exception):
    """A record could not be made into a notification (not JSON, a missing field):
    no attempt will do better, so it goes to the failure topic."""


class Fields(Mapping[str, Any]):
    """A JSON object whose fields ``str.format`` reaches as items and attributes."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def __getitem__(self, name: str) -> Any:
        return _wrap(self._data[name])

    def __getattr__(self, name: str) -> Any:
        try:
            return _wrap(self._data[name])
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __format__(self, spec: str) -> str:
        return format(json.dumps(self._data, separators=(",", ":")), spec)

    def __str__(self) -> str:
        return json.dumps(self._data, separators=(",", ":"))


def _wrap(value: Any) -> Any:
    return Fields(value) if isinstance(value, Mapping) else value


def check_template(template: object) -> Template | None:
    """Refuse a template that is neither text nor a ``string.Template``, or is malformed."""
    if template is None:
        return None
    if isinstance(template, string.Template):
        if not template.is_valid():
            raise InvalidArgumentError(
                f"template {template.template!r} is malformed: use $field, ${{field}} or $$"
            )
        return template
    if not isinstance(template, str):
        raise InvalidArgumentError(
            f"template must be a str (str.format style) or a string.Template, not {template!r}"
        )
    try:
        list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidArgumentError(
            f"template {template!r} is malformed ({exc}); write {{{{ and }}}} for literal braces"
        ) from None
    return template


def fields(record: Record, value: Any) -> dict[str, Any]:
    """The names a template may use for ``record`` whose parsed value is ``value``."""
    if not isinstance(value, Mapping):
        raise RenderError("a template needs a JSON object value, not " + type(value).__name__)
    out = dict(value)
    out["_topic"] = record.topic
    out["_partition"] = record.partition
    out["_offset"] = record.offset
    out["_timestamp"] = record.timestamp
    out["_key"] = None if record.key is None else record.key.decode("utf-8", "replace")
    return out


def fill(template: Template, record: Record, value: Any) -> str:
    """``template`` filled from ``record``'s fields; ``RenderError`` if one is missing."""
    names = fields(record, value)
    try:
        if isinstance(template, string.Template):
            return template.substitute(names)
        return template.format_map(Fields(names))
    except (KeyError, AttributeError) as exc:
        raise RenderError(f"the template names {exc}, which the value does not have") from None
    except (ValueError, TypeError, IndexError) as exc:
        raise RenderError(f"the template could not be filled: {exc}") from None


def render(
    record: Record,
    value: Any,
    template: Template | None,
    shape: Callable[[Record], Any] | None,
) -> Content | None:
    """The content of ``record``'s notification; None when ``shape`` returns None (the
    record is skipped). ``value`` is the parsed JSON value (parsed when a template
    needs it and it was not yet)."""
    if shape is not None:
        try:
            out = shape(record)
        except Exception as exc:
            raise RenderError(f"shape raised {type(exc).__name__}: {exc}") from exc
        if out is None or isinstance(out, dict | list | str | bytes):
            return out
        raise RenderError(f"shape must return a dict, str, bytes or None, not {type(out).__name__}")
    if template is not None:
        return fill(template, record, value)
    return record.value or b""
