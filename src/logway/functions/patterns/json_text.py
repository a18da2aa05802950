"""JSON text in and out: loading a pattern from text, and showing values in messages.

A pattern given as text is parsed strictly (no duplicate keys, no NaN, no float
that overflows); a float with more digits than its double keeps its text, as
event-ruler refuses it as a numeric operand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from logway.functions.patterns.errors import PatternError


def load(pattern: Mapping[str, Any] | str) -> Mapping[str, Any]:
    """The pattern as a Python object, given as one or as JSON text (str or bytes)."""
    if isinstance(pattern, (str, bytes, bytearray)):
        try:
            loaded = json.loads(
                pattern,
                object_pairs_hook=unique_keys,
                parse_float=parse_json_float,
                parse_constant=refuse_constant,
            )
        except PatternError:
            raise
        except json.JSONDecodeError as e:
            raise PatternError(
                f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})"
            ) from None
        except (ValueError, RecursionError) as e:  # bad UTF-8, an int of 5000 digits, ...
            raise PatternError(f"not valid JSON: {e}") from None
        pattern = loaded
    if not isinstance(pattern, Mapping):
        raise PatternError(f"a pattern must be a JSON object, not {json_type(pattern)}", "")
    return pattern


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PatternError(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


class LongFloat(float):
    """A float from JSON text with more digits than its double's shortest form.

    It still matches as an exact value, but event-ruler refuses it as the
    operand of ``numeric`` or ``anything-but``, and so do we.
    """

    __slots__ = ("text",)
    text: str

    def __new__(cls, value: float, text: str) -> LongFloat:
        self = super().__new__(cls, value)
        self.text = text
        return self

    def __repr__(self) -> str:
        return self.text


def parse_json_float(text: str) -> float:
    value = float(text)
    exact = Decimal(text)
    if value in (float("inf"), float("-inf")) or (value == 0.0 and exact != 0):
        raise PatternError(f"the number {text} is outside the range of a 64-bit float")
    if Decimal(repr(value)) != exact:
        return LongFloat(value, text)
    return value


def refuse_constant(name: str) -> Any:
    raise PatternError(f"{name} is not a JSON value")


def json_type(value: Any) -> str:
    """The JSON type of ``value``, for messages: "a string", "an array", ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "an array"
    return f"a {type(value).__name__}"


def show(value: Any) -> str:
    """``value`` as a message quotes it: JSON, cut short past 80 characters."""
    if isinstance(value, LongFloat):
        return value.text
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        try:
            text = repr(value)
        except ValueError:  # an int too long to print
            return f"an {type(value).__name__} too long to show"
    return text if len(text) <= 80 else text[:77] + "..."
