"""Confluent's rules for strings, numbers, enum and const: limits only loosen, a pattern
may go but not come or change, multipleOf may go or become a divisor of the writer's,
enum values may be added but not removed, const may not change.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from logway.schemas.jsonschema.compare import _Context, _limit
from logway.schemas.jsonschema.model import _Const, _Enum, _Number, _String


def _compare_string(ctx: _Context, o: _String, u: _String) -> None:
    _limit(ctx, "maxLength", "MAX_LENGTH", o.max_length, u.max_length)
    _limit(ctx, "minLength", "MIN_LENGTH", o.min_length, u.min_length)
    if o.pattern != u.pattern:
        if o.pattern is None:
            ctx.add("PATTERN_ADDED", "pattern", detail=f"the reader adds pattern {u.pattern!r}")
        elif u.pattern is None:
            ctx.add("PATTERN_REMOVED", "pattern")
        else:
            ctx.add(
                "PATTERN_CHANGED", "pattern", detail=f"pattern {o.pattern!r} becomes {u.pattern!r}"
            )


def _decimal(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


def _compare_number(ctx: _Context, o: _Number, u: _Number) -> None:
    _limit(ctx, "maximum", "MAXIMUM", o.maximum, u.maximum)
    _limit(ctx, "minimum", "MINIMUM", o.minimum, u.minimum)
    _limit(ctx, "exclusiveMaximum", "EXCLUSIVE_MAXIMUM", o.exclusive_maximum, u.exclusive_maximum)
    _limit(ctx, "exclusiveMinimum", "EXCLUSIVE_MINIMUM", o.exclusive_minimum, u.exclusive_minimum)
    old, new = _decimal(o.multiple_of), _decimal(u.multiple_of)
    if old != new:
        detail = f"multipleOf {o.multiple_of} becomes {u.multiple_of}"
        if old is None:
            ctx.add(
                "MULTIPLE_OF_ADDED",
                "multipleOf",
                detail=f"the reader adds multipleOf {u.multiple_of}",
            )
        elif new is None:
            ctx.add("MULTIPLE_OF_REMOVED", "multipleOf")
        elif old != 0 and new % old == 0:
            ctx.add("MULTIPLE_OF_EXPANDED", "multipleOf", detail=detail)
        elif new != 0 and old % new == 0:
            ctx.add("MULTIPLE_OF_REDUCED", "multipleOf")
        else:
            ctx.add("MULTIPLE_OF_CHANGED", "multipleOf", detail=detail)
    if o.integer != u.integer:
        if o.integer:
            ctx.add("TYPE_EXTENDED")
        else:
            ctx.add("TYPE_NARROWED", detail="the writer's number is read as integer")


def _json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _compare_enum(ctx: _Context, o: _Enum, u: _Enum) -> None:
    old, new = {_json_text(v) for v in o.values}, {_json_text(v) for v in u.values}
    if old == new:
        return
    if new >= old:
        ctx.add("ENUM_ARRAY_EXTENDED", "enum")
        return
    lost = ", ".join(sorted(old - new))
    ctx.add(
        "ENUM_ARRAY_NARROWED" if old >= new else "ENUM_ARRAY_CHANGED",
        "enum",
        detail=f"the reader's enum lacks {lost}",
    )


def _compare_const(ctx: _Context, o: _Const, u: _Const) -> None:
    if _json_text(o.value) != _json_text(u.value):
        detail = f"const {_json_text(o.value)} becomes {_json_text(u.value)}"
        ctx.add("ENUM_ARRAY_CHANGED", "const", detail=detail)
