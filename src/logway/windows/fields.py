"""Reading a field of a record's value: a key, a dotted path ``"a.b"``, or a callable.

``source`` gives the Python expression aggregations compile into their add function;
``read`` is the slow path used to name the field a record lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from logway.errors import InvalidArgumentError

Field = str | Callable[[Any], Any]

# What a missing key, a value that is not a dict, or a failing callable raises.
LOOKUP_ERRORS = (KeyError, IndexError, TypeError, AttributeError)


def describe(field: Field) -> str:
    """The field's name for messages."""
    if isinstance(field, str):
        return field
    return getattr(field, "__name__", repr(field))


def check(field: Any, aggregation: str) -> Field:
    """``field`` if it is a non-empty string or a callable, else a clear error."""
    if callable(field) or (isinstance(field, str) and field and "" not in field.split(".")):
        return field  # type: ignore[no-any-return]
    raise InvalidArgumentError(
        f"{aggregation}: the field must be a key of the record's value, a dotted path such "
        f"as 'a.b' or a callable(value), not {field!r}"
    )


def source(field: Field, var: str, callable_name: str) -> str:
    """A Python expression reading ``field`` from ``var``; a callable is referenced by
    ``callable_name`` in the compiled function's globals."""
    if not isinstance(field, str):
        return f"{callable_name}({var})"
    return var + "".join(f"[{part!r}]" for part in field.split("."))


def read(field: Field, value: Any) -> Any:
    """The field's value, raising one of ``LOOKUP_ERRORS`` when it is missing."""
    if not isinstance(field, str):
        return field(value)
    for part in field.split("."):
        value = value[part]
    return value
