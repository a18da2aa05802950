"""Literal values as .proto text: string literals read and quoted, numbers, option
values and ``default``s, written alike whether they came from text or a descriptor.
"""

from __future__ import annotations

import re
from typing import Any

from proto_schema_parser import ast

from logway.schemas.protobuf.model import INTEGERS

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPE = re.compile(
    r"\\(?:([abfnrtv\\'\"?])|[xX]([0-9a-fA-F]{1,2})|([0-7]{1,3})|u([0-9a-fA-F]{4})"
    r"|U([0-9a-fA-F]{8}))"
)


def unescape(text: str) -> str:
    """A string literal's value from its text between the quotes."""

    def one(match: re.Match[str]) -> str:
        simple, hex_, octal, u4, u8 = match.groups()
        if simple:
            return _ESCAPES.get(simple, simple)
        if hex_ or octal:
            return chr(int(hex_, 16) if hex_ else int(octal, 8))
        return chr(int(u4 or u8, 16))

    return _ESCAPE.sub(one, text)


_ADJACENT = re.compile(r"""(?<!\\)(?:"\s*"|'\s*')""")


def string_value(text: str) -> str:
    """A string literal's value from the parser's text of it: outer quotes gone,
    adjacent literals (``"a" "b"``) still to join."""
    return unescape(_ADJACENT.sub("", text))


def quote(value: str) -> str:
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 32 or ord(char) == 127:
            out.append(f"\\{ord(char):03o}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def float_text(value: float) -> str:
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def literal(value: Any) -> str:
    """An option value from the parser as .proto text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, ast.Identifier):
        return value.name
    if isinstance(value, str):
        return quote(string_value(value))
    if isinstance(value, ast.MessageLiteral):
        parts = sorted(
            f"{e.name}: {literal(e.value)}"
            for e in value.elements
            if isinstance(e, ast.MessageLiteralField)
        )
        return "{ " + " ".join(parts) + " }" if parts else "{}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return str(value)


def default_text(type_name: str, value: Any) -> str:
    """A ``default`` as .proto text, the same from text and from a descriptor."""
    if type_name in ("string", "bytes"):
        return quote(value if isinstance(value, str) else str(value))
    if type_name in ("double", "float"):
        if isinstance(value, ast.Identifier):
            value = value.name
        try:
            return float_text(float(value))
        except (TypeError, ValueError):
            return str(value)
    if type_name == "bool":
        return literal(value) if isinstance(value, bool) else str(value).lower()
    if type_name in INTEGERS:
        try:
            return str(int(str(value), 0))
        except ValueError:
            return str(value)
    return value.name if isinstance(value, ast.Identifier) else str(value)
