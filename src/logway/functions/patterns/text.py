"""String tests: equals-ignore-case per character, as event-ruler does, and wildcards."""

from __future__ import annotations

import re
from operator import methodcaller

from logway.functions.patterns.errors import PatternError
from logway.functions.patterns.json_text import show
from logway.functions.patterns.tree import Predicate, always


def ci_regex(text: str) -> str:
    """A regex for ``text`` where each character may also be its lower or upper case.

    This is how event-ruler compares ignoring case: per character, not by
    folding whole strings, so "ß" matches "SS" but "ss" does not match "ß".
    Like event-ruler (which goes by UTF-16 units), characters beyond the Basic
    Multilingual Plane only match themselves.
    """
    parts = []
    for char in text:
        if ord(char) > 0xFFFF:
            parts.append(re.escape(char))
            continue
        forms = sorted({char, char.lower(), char.upper()}, key=lambda f: (-len(f), f))
        if len(forms) == 1:
            parts.append(re.escape(char))
        else:
            parts.append("(?:" + "|".join(map(re.escape, forms)) + ")")
    return "".join(parts)


def ci_equals(text: str) -> Predicate:
    fullmatch = re.compile(ci_regex(text), re.DOTALL).fullmatch
    return lambda v: fullmatch(v) is not None


def ci_prefix(text: str) -> Predicate:
    if text.isascii():
        n, lower = len(text), text.lower()

        def ascii_prefix(v: str) -> bool:
            head = v[:n]
            return head.isascii() and head.lower() == lower

        return ascii_prefix
    match = re.compile(ci_regex(text), re.DOTALL).match
    return lambda v: match(v) is not None


def ci_suffix(text: str) -> Predicate:
    if text.isascii():
        n, lower = len(text), text.lower()
        if n == 0:
            return always

        def ascii_suffix(v: str) -> bool:
            tail = v[-n:]
            return tail.isascii() and tail.lower() == lower

        return ascii_suffix
    search = re.compile(ci_regex(text) + r"\Z", re.DOTALL).search
    return lambda v: search(v) is not None


def parse_wildcard(text: str, where: str) -> list[str]:
    """Split a wildcard pattern at its unescaped stars into literal segments."""
    segments: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "*":
            if i + 1 < n and text[i + 1] == "*":
                raise PatternError(
                    f"wildcard {show(text)} has consecutive '*' at position {i}; one '*' already "
                    "matches any run of characters",
                    where,
                )
            segments.append("".join(current))
            current = []
        elif char == "\\":
            if i + 1 < n and text[i + 1] in "*\\":
                current.append(text[i + 1])
                i += 1
            else:
                raise PatternError(
                    f"wildcard {show(text)} has a backslash at position {i} that escapes "
                    "neither '*' nor '\\'",
                    where,
                )
        else:
            current.append(char)
        i += 1
    segments.append("".join(current))
    return segments


def wildcard_predicate(segments: list[str]) -> Predicate:
    """Glob test for literal segments separated by stars (at least two segments)."""
    first, last = segments[0], segments[-1]
    middle = tuple(s for s in segments[1:-1] if s)
    shortest = sum(map(len, segments))
    if not middle:
        if not first and not last:
            return always
        if not first:
            return methodcaller("endswith", last)
        if not last:
            return methodcaller("startswith", first)
        return lambda v: len(v) >= shortest and v.startswith(first) and v.endswith(last)
    start, tail = len(first), len(last)

    def glob(v: str) -> bool:
        if len(v) < shortest or not v.startswith(first) or not v.endswith(last):
            return False
        pos, end = start, len(v) - tail
        for segment in middle:  # leftmost placement is optimal for '*'-only globs
            found = v.find(segment, pos, end)
            if found < 0:
                return False
            pos = found + len(segment)
        return True

    return glob
