"""EventBridge event patterns as a record filter, with aws/event-ruler's semantics.

A pattern is a JSON object shaped like the events it selects. Every key is a
field name; its value is either a nested object (descend into that field) or a
non-empty list of alternatives for the value found there::

    {"source": ["orders"],
     "detail": {"price": [{"numeric": [">", 0, "<=", 100]}],
                "sku": [{"prefix": "BK-"}, {"prefix": "EB-"}]}}

The fields of an object must all match (AND); the alternatives of a list are
OR-ed; ``"$or": [{...}, {...}]`` OR-s whole sub-patterns. When the event holds
an array where the pattern expects a value, the field matches if any element
does; when it holds an array of objects where the pattern expects an object,
the fields of that sub-pattern must all be found in the *same* element (the
"array consistency" of event-ruler's ``rulesForJSONEvent``).

A field is named by its path joined with dots, in the pattern and in the
event alike: ``{"state.status": ["running"]}`` selects ``{"state": {"status":
"running"}}``, and ``{"state": {"status": ["running"]}}`` selects ``{"state.status":
"running"}``. When both spellings of one path occur in an event, the field
holds the values of both; a pattern that names one path both ways is refused.

Alternatives in a value list:

``"text"``, ``12.5``, ``true``, ``null``
    exact match. JSON types never mix: ``"5"`` is not ``5`` and ``true`` is not
    ``1``; numbers compare by value, so ``5`` matches ``5.0``. A string that is
    an IPv4 or IPv6 address matches every spelling of that address.
``{"exactly": "text"}``
    exact string match without the IP-address normalisation.
``{"prefix": "p"}``, ``{"suffix": "s"}``
    string starts / ends with; ``{"prefix": {"equals-ignore-case": "p"}}`` and
    the same for ``suffix`` ignore case.
``{"equals-ignore-case": "text"}``
    string equal but for case.
``{"wildcard": "a*b"}``
    ``*`` stands for any run of characters; ``\\*`` is a literal star and
    ``\\\\`` a literal backslash; ``**`` is refused. So are wildcards too
    complex for EventBridge: a field's wildcard patterns (``anything-but``
    ones too) must not let one value keep more than 10 of their prefixes
    matching at once. ``"*:*:*:*:*:event-bus/*"`` does (``":::::`` keeps 11);
    fewer stars and fewer repeated characters after a star keep it low, as in
    ``"arn:aws:events:*:event-bus/*"``.
``{"numeric": ["<", 10]}``, ``{"numeric": [">", 0, "<=", 5]}``
    JSON numbers compared as IEEE-754 doubles (``=``, ``<``, ``<=``, ``>``,
    ``>=``; a range is a lower bound followed by an upper bound).
``{"cidr": "10.0.0.0/24"}``
    string holding an IPv4 or IPv6 address inside the block (as in event-ruler,
    the mask is shorter than the address: at most /31 and /127).
``{"exists": true}`` / ``{"exists": false}``
    the field has / has no value. Only leaves count: a field holding an object
    or an empty array has no value, a field holding ``null`` has one.
``{"anything-but": ...}``
    a value is present and is not one of the given strings or numbers (a value
    or a list of values of one type), or does not match ``{"prefix": ...}``,
    ``{"suffix": ...}``, ``{"equals-ignore-case": ...}`` or
    ``{"wildcard": ...}`` (each a string or a list of strings). As in
    event-ruler, values of another JSON type always pass: ``{"anything-but":
    "x"}`` matches ``5``, ``true`` and ``null``.

Differences from event-ruler, all on purpose: a path named twice in one
combination of ``$or`` branches or by both a dotted key and nested objects
(which event-ruler silently resolves by letting one override the other) and
duplicate keys in a JSON pattern are refused; ``"$or"`` is always the operator
(never an ordinary field name); ``exists: false`` inside arrays is checked
against the array element the rest of the sub-pattern matched, whatever the
alphabetical order of the field names; IPv4 blocks never match IPv6 addresses
nor the reverse, and ``cidr`` never matches numbers; a pattern may expand to at
most 1024 ``$or`` combinations; an event that is not a JSON object matches
nothing.

Patterns are compiled once into closures; matching allocates nothing on the
common paths. A module per step: ``json_text`` loads a pattern given as text,
``parser`` turns it into $or-free branches of fields (``tree``), ``operators``
reads each alternative of a value list, with ``numbers``, ``text`` and
``addresses`` saying how values compare, and ``complexity`` applies EventBridge's
wildcard limit; ``leaves``, ``dotted`` and ``matcher`` compile the branches into
one test of an event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from logway.functions.patterns.errors import PatternError
from logway.functions.patterns.json_text import load
from logway.functions.patterns.leaves import first_true
from logway.functions.patterns.matcher import compile_branches
from logway.functions.patterns.tree import Predicate, always

__all__ = ["Filter", "Pattern", "PatternError", "compile_filters", "compile_pattern"]


class Pattern:
    """One compiled event pattern.

    ``matches(event)`` tells whether a decoded JSON event (a mapping of str to
    dicts, lists, str, int, float, bool and None) matches. ``source`` is the
    pattern as a Python object.
    """

    __slots__ = ("matches", "source")

    matches: Predicate
    source: Mapping[str, Any]

    def __init__(self, source: Mapping[str, Any], branches: Sequence[Predicate]) -> None:
        self.source = source
        self.matches = first_true(branches)

    def __repr__(self) -> str:
        return f"Pattern({json.dumps(self.source, sort_keys=True)})"


class Filter:
    """Patterns OR-ed together; ``matches(event)`` is true when any matches.

    A filter made of no patterns matches every event.
    """

    __slots__ = ("matches", "patterns")

    matches: Predicate
    patterns: tuple[Pattern, ...]

    def __init__(self, patterns: Sequence[Pattern], branches: Sequence[Predicate]) -> None:
        self.patterns = tuple(patterns)
        self.matches = first_true(branches) if self.patterns else always

    def __repr__(self) -> str:
        return f"Filter({list(self.patterns)!r})"


def compile_pattern(pattern: Mapping[str, Any] | str) -> Pattern:
    """Compile an EventBridge event pattern given as a dict or as JSON text (str or bytes).

    Raises :class:`PatternError` when the pattern is malformed.
    """
    source = load(pattern)
    return Pattern(source, compile_branches(source))


def compile_filters(patterns: Sequence[Mapping[str, Any] | str]) -> Filter:
    """Compile filter patterns into one :class:`Filter` that matches when any does.

    An empty list gives a filter that matches everything. Raises
    :class:`PatternError` (whose ``index`` says which pattern) when one is
    malformed.
    """
    if isinstance(patterns, (str, bytes, Mapping)):
        raise PatternError("compile_filters takes a list of patterns, not a single pattern")
    compiled: list[Pattern] = []
    branches: list[Predicate] = []
    for index, pattern in enumerate(patterns):
        try:
            source = load(pattern)
            fns = compile_branches(source)
        except PatternError as e:
            raise PatternError(e.problem, e.path, index) from None
        compiled.append(Pattern(source, fns))
        branches.extend(fns)
    return Filter(compiled, branches)
