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
duplicate keys in a JSON pattern are refused;
``"$or"`` is always the operator (never an ordinary field name); ``exists:
false`` inside arrays is checked against the array element the rest of the
sub-pattern matched, whatever the alphabetical order of the field names; IPv4
blocks never match IPv6 addresses nor the reverse, and ``cidr`` never matches
numbers; a pattern may expand to at most 1024 ``$or``
combinations; an event that is not a JSON object matches nothing.

Patterns are compiled once into closures; matching allocates nothing on the
common paths.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import sys
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from operator import methodcaller
from typing import Any, Final, TypeAlias

from logway.errors import InvalidArgumentError

__all__ = ["Filter", "Pattern", "PatternError", "compile_filters", "compile_pattern"]

#: A compiled test of one JSON value (or of the event itself).
Predicate: TypeAlias = Callable[[Any], bool]
_Tri: TypeAlias = Callable[[Any], int]
_NumKey: TypeAlias = int | float | tuple[str, int]  # an exact number, see _num_key
# One alternative of a value list: what tells it apart from others, and the
# wildcard patterns it holds (for the complexity limit, see _check_complexity).
_Term: TypeAlias = tuple[Hashable, tuple[str, ...]]

_MISSING: Final = object()  # stands for "the event has no such field"

# Outcomes of a sub-pattern that contains ``exists: false``: it failed, it held
# only because the fields it wants absent are absent, or it used a value.
_NO: Final = 0
_ABSENT: Final = 1
_VALUE: Final = 2

_DBL_MAX: Final = sys.float_info.max
_EXACT_INTS: Final = 2**53  # every int of at most this magnitude is a comparable number
_MAX_BRANCHES: Final = 1024  # $or combinations one pattern may expand to

_OPERATORS: Final = (
    "anything-but",
    "cidr",
    "equals-ignore-case",
    "exactly",
    "exists",
    "numeric",
    "prefix",
    "suffix",
    "wildcard",
)
# Keys event-ruler refuses as field names inside "$or" objects: its operators,
# numeric comparison signs and names it keeps for future operators.
_RESERVED_IN_OR: Final = frozenset(
    (
        *_OPERATORS,
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
        "not-wildcard",
        "not-equals-ignore-case",
        "date-after",
        "date-on-or-after",
        "date-before",
        "date-on-or-before",
        "in-date-range",
        "ip-address-in-range",
        "ip-address-not-in-range",
    )
)
_NUMERIC_OPS: Final = frozenset(("=", "<", "<=", ">", ">="))

# What event-ruler is willing to read as an IP address (anything else is text).
_IPV4_RE: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6_RE: Final = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")


class PatternError(InvalidArgumentError):
    """An event pattern is malformed.

    ``path`` is the dotted field path where the problem is (``""`` for the
    pattern as a whole), ``problem`` says what is wrong, and ``index`` is the
    position of the pattern in the list given to :func:`compile_filters`.
    """

    def __init__(self, problem: str, path: str = "", index: int | None = None) -> None:
        self.problem = problem
        self.path = path
        self.index = index
        where = "event pattern" if index is None else f"event pattern #{index}"
        if path:
            where += f" at `{path}`"
        super().__init__(f"{where}: {problem}")


# ---------------------------------------------------------------------------
# Compiled objects


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
        self.matches = _any_branch(branches)

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
        self.matches = _any_branch(branches) if self.patterns else _always

    def __repr__(self) -> str:
        return f"Filter({list(self.patterns)!r})"


def compile_pattern(pattern: Mapping[str, Any] | str) -> Pattern:
    """Compile an EventBridge event pattern given as a dict or as JSON text (str or bytes).

    Raises :class:`PatternError` when the pattern is malformed.
    """
    source = _load(pattern)
    return Pattern(source, _compile(source))


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
            source = _load(pattern)
            fns = _compile(source)
        except PatternError as e:
            raise PatternError(e.problem, e.path, index) from None
        compiled.append(Pattern(source, fns))
        branches.extend(fns)
    return Filter(compiled, branches)


def _always(event: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _any_branch(branches: Sequence[Predicate]) -> Predicate:
    if len(branches) == 1:
        return branches[0]
    fns = tuple(branches)

    def any_branch(event: Any) -> bool:
        for fn in fns:  # noqa: SIM110 - any() over a generator allocates per call
            if fn(event):
                return True
        return False

    return any_branch


# ---------------------------------------------------------------------------
# Loading JSON text


def _load(pattern: Mapping[str, Any] | str) -> Mapping[str, Any]:
    if isinstance(pattern, (str, bytes, bytearray)):
        try:
            loaded = json.loads(
                pattern,
                object_pairs_hook=_unique_keys,
                parse_float=_parse_json_float,
                parse_constant=_refuse_constant,
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
        raise PatternError(f"a pattern must be a JSON object, not {_json_type(pattern)}", "")
    return pattern


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PatternError(f"the key {key!r} appears twice in one object")
        result[key] = value
    return result


class _LongFloat(float):
    """A float from JSON text with more digits than its double's shortest form.

    It still matches as an exact value, but event-ruler refuses it as the
    operand of ``numeric`` or ``anything-but``, and so do we.
    """

    __slots__ = ("text",)
    text: str

    def __new__(cls, value: float, text: str) -> _LongFloat:
        self = super().__new__(cls, value)
        self.text = text
        return self

    def __repr__(self) -> str:
        return self.text


def _parse_json_float(text: str) -> float:
    value = float(text)
    exact = Decimal(text)
    if value in (float("inf"), float("-inf")) or (value == 0.0 and exact != 0):
        raise PatternError(f"the number {text} is outside the range of a 64-bit float")
    if Decimal(repr(value)) != exact:
        return _LongFloat(value, text)
    return value


def _refuse_constant(name: str) -> Any:
    raise PatternError(f"{name} is not a JSON value")


def _json_type(value: Any) -> str:
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


def _show(value: Any) -> str:
    if isinstance(value, _LongFloat):
        return value.text
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        try:
            text = repr(value)
        except ValueError:  # an int too long to print
            return f"an {type(value).__name__} too long to show"
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------------------
# Parsing: a pattern becomes one or more branches ($or expanded), each a tree


class _Leaf:
    """The alternatives listed for one field, grouped by the JSON type they test."""

    __slots__ = (
        "absent",
        "ci_ascii",
        "const_always",
        "consts",
        "ips",
        "num_always",
        "num_preds",
        "nums",
        "prefixes",
        "ranges",
        "str_always",
        "str_preds",
        "strs",
        "suffixes",
        "terms",
    )

    def __init__(self) -> None:
        self.terms: list[_Term] = []  # the alternatives one by one, see _term
        self.strs: set[str] = set()
        self.prefixes: list[str] = []
        self.suffixes: list[str] = []
        self.ci_ascii: set[str] = set()  # lower-cased ASCII equals-ignore-case values
        self.ips: list[tuple[int, int, int]] = []  # (version, low, high)
        self.str_preds: list[Predicate] = []
        self.str_always = False
        self.nums: set[_NumKey] = set()  # see _num_key
        self.ranges: list[tuple[float, float]] = []  # closed bounds, see _closed_range
        self.num_preds: list[Predicate] = []
        self.num_always = False
        self.consts: set[bool | None] = set()
        self.const_always = False
        self.absent = False  # {"exists": false} is one of the alternatives


class _Tree:
    """One $or-free branch of a pattern, as nested field names."""

    __slots__ = ("children", "leaf")

    def __init__(self) -> None:
        self.children: dict[str, _Tree] = {}
        self.leaf: _Leaf | None = None

    def has_absence(self) -> bool:
        if self.leaf is not None and self.leaf.absent:
            return True
        return any(child.has_absence() for child in self.children.values())


_Path: TypeAlias = tuple[str, ...]
_Branch: TypeAlias = dict[_Path, _Leaf]


def _dotted(where: Sequence[str]) -> str:
    return ".".join(where)


def _compile(source: Mapping[str, Any]) -> list[Predicate]:
    """One event test per $or-free branch of the pattern."""
    try:
        return [_compile_branch(tree) for tree in _branches(source)]
    except RecursionError:
        raise PatternError("the pattern is nested too deeply") from None


def _branches(source: Mapping[str, Any]) -> list[_Tree]:
    branches = _parse_object(source, (), (), in_or=False)
    _check_complexity(branches)
    trees = []
    for branch in branches:
        tree = _Tree()
        for path, leaf in branch.items():
            node = tree
            for name in path:
                node = node.children.setdefault(name, _Tree())
            node.leaf = leaf
        trees.append(tree)
    return trees


def _parse_object(
    obj: Mapping[str, Any], prefix: _Path, where: tuple[str, ...], in_or: bool
) -> list[_Branch]:
    if not obj:
        raise PatternError("empty objects are not allowed; give at least one field", _dotted(where))
    branches: list[_Branch] = [{}]
    for key, value in obj.items():
        if not isinstance(key, str):
            raise PatternError(f"field names must be strings, not {key!r}", _dotted(where))
        here = (*where, key)
        if key == "$or":
            alternatives = _parse_or(value, prefix, here)
            branches = _combine(branches, alternatives, here)
        elif in_or and key in _RESERVED_IN_OR:
            raise PatternError(
                f"{key!r} is an operator name and cannot be a field name inside $or; "
                "each $or object maps field names to value lists, "
                f'e.g. {{"price": [{{"{key}": ...}}]}}',
                _dotted(here),
            )
        elif isinstance(value, Mapping):
            sub = _parse_object(value, (*prefix, *key.split(".")), here, in_or)
            branches = _combine(branches, sub, here)
        elif isinstance(value, (list, tuple)):
            leaf = _parse_leaf(value, _dotted(here))
            path = (*prefix, *key.split("."))  # "a.b" is the field b of a
            for branch in branches:
                if path in branch:  # set by a $or listed earlier in this object
                    raise _twice(path, _dotted(where))
                branch[path] = leaf
        else:
            raise PatternError(
                f"a field must hold an object or an array of values, not {_json_type(value)} "
                f"({_show(value)}); write [{_show(value)}] to match that value",
                _dotted(here),
            )
    return branches


def _parse_or(value: Any, prefix: _Path, where: tuple[str, ...]) -> list[_Branch]:
    if not isinstance(value, (list, tuple)):
        raise PatternError(
            f"$or must be an array of at least two objects, not {_json_type(value)}",
            _dotted(where),
        )
    if len(value) < 2:
        raise PatternError(f"$or must list at least two objects, got {len(value)}", _dotted(where))
    alternatives: list[_Branch] = []
    for i, alternative in enumerate(value):
        here = (*where[:-1], f"$or[{i}]")
        if not isinstance(alternative, Mapping):
            raise PatternError(
                f"every element of $or must be an object, not {_json_type(alternative)}",
                _dotted(here),
            )
        alternatives.extend(_parse_object(alternative, prefix, here, in_or=True))
    return alternatives


def _combine(left: list[_Branch], right: list[_Branch], where: tuple[str, ...]) -> list[_Branch]:
    """Every branch of ``left`` AND-ed with every branch of ``right``."""
    if len(left) * len(right) > _MAX_BRANCHES:
        raise PatternError(
            f"the $or operators expand to more than {_MAX_BRANCHES} combinations; "
            "simplify the pattern or split it into several filter patterns",
            _dotted(where),
        )
    combined = []
    for a in left:
        for b in right:
            clash = a.keys() & b.keys()
            if clash:
                raise _twice(min(clash), _dotted(where))
            combined.append({**a, **b})
    return combined


def _twice(path: _Path, where: str) -> PatternError:
    return PatternError(
        f"the field `{_dotted(path)}` is given twice (by a dotted key and nested objects, "
        "or inside and beside $or); event-ruler would let one silently override the other, "
        "so list all its alternatives in one place",
        where,
    )


def _parse_leaf(values: Sequence[Any], where: str) -> _Leaf:
    if not values:
        raise PatternError(
            "empty arrays are not allowed; list at least one value or operator", where
        )
    leaf = _Leaf()
    for value in values:
        _parse_value(value, leaf, where)
        leaf.terms.append(_term(value))
    return leaf


def _parse_value(value: Any, leaf: _Leaf, where: str) -> None:
    if value is None or isinstance(value, bool):
        leaf.consts.add(value)
    elif isinstance(value, str):
        leaf.strs.add(value)
        ip = _parse_ip(value)
        if ip is not None:
            leaf.ips.append((ip[0], ip[1], ip[1]))
    elif isinstance(value, (int, float)):
        leaf.nums.add(_num_key(_finite(value, where, "a value")))
    elif isinstance(value, Mapping):
        _parse_operator(value, leaf, where)
    elif isinstance(value, (list, tuple)):
        raise PatternError(
            f"arrays cannot be nested in a value list ({_show(value)}); "
            "list the alternatives directly",
            where,
        )
    else:
        raise PatternError(f"{_json_type(value)} is not a JSON value", where)


def _term(value: Any) -> _Term:
    """An alternative as event-ruler tells it apart from others, with its wildcards."""
    if isinstance(value, Mapping):
        ((op, arg),) = value.items()
        if op == "wildcard":
            return ("wildcard", arg), (arg,)
        if op == "anything-but" and isinstance(arg, Mapping) and "wildcard" in arg:
            texts = arg["wildcard"]
            unique = tuple(sorted(set(texts))) if isinstance(texts, (list, tuple)) else (texts,)
            return ("anything-but wildcard", unique), unique
        return (op, json.dumps(arg, sort_keys=True, default=repr)), ()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ("number", _num_key(value)), ()
    return ("value", type(value).__name__, value), ()


def _finite(value: int | float, where: str, what: str) -> int | float:
    if isinstance(value, float) and not (-_DBL_MAX <= value <= _DBL_MAX):
        raise PatternError(f"{what} must be a finite number, not {value!r}", where)
    return value


def _parse_operator(expression: Mapping[str, Any], leaf: _Leaf, where: str) -> None:
    if len(expression) != 1:
        if not expression:
            raise PatternError(
                "an empty object is not a match expression; "
                'use one operator such as {"prefix": "..."}',
                where,
            )
        raise PatternError(
            f"a match expression has exactly one operator, got {sorted(map(str, expression))}",
            where,
        )
    ((op, arg),) = expression.items()
    handler = _HANDLERS.get(op)
    if handler is None:
        raise PatternError(
            f"unknown operator {op!r}; expected one of {', '.join(_OPERATORS)}", where
        )
    handler(arg, leaf, where)


def _op_exactly(arg: Any, leaf: _Leaf, where: str) -> None:
    leaf.strs.add(_need_str(arg, "exactly", where))


def _op_prefix(arg: Any, leaf: _Leaf, where: str) -> None:
    if isinstance(arg, Mapping):
        leaf.str_preds.append(_ci_prefix(_ci_operand(arg, "prefix", where)))
    else:
        leaf.prefixes.append(_need_str(arg, "prefix", where, '{"equals-ignore-case": "..."}'))


def _op_suffix(arg: Any, leaf: _Leaf, where: str) -> None:
    if isinstance(arg, Mapping):
        leaf.str_preds.append(_ci_suffix(_ci_operand(arg, "suffix", where)))
    else:
        leaf.suffixes.append(_need_str(arg, "suffix", where, '{"equals-ignore-case": "..."}'))


def _op_equals_ignore_case(arg: Any, leaf: _Leaf, where: str) -> None:
    text = _need_str(arg, "equals-ignore-case", where)
    if text.isascii():
        leaf.ci_ascii.add(text.lower())
    else:
        leaf.str_preds.append(_ci_equals(text))


def _op_wildcard(arg: Any, leaf: _Leaf, where: str) -> None:
    segments = _parse_wildcard(_need_str(arg, "wildcard", where), where)
    if len(segments) == 1:
        leaf.strs.add(segments[0])  # no star: plain equality
    else:
        leaf.str_preds.append(_wildcard_predicate(segments))


def _op_numeric(arg: Any, leaf: _Leaf, where: str) -> None:
    if not isinstance(arg, (list, tuple)):
        raise PatternError(
            f'numeric takes an array such as ["<", 10] or [">", 0, "<=", 5], not {_json_type(arg)}',
            where,
        )
    if len(arg) not in (2, 4):
        raise PatternError(
            f"numeric takes [operator, number] or [lower operator, number, upper operator, "
            f"number]; got {len(arg)} element(s): {_show(arg)}",
            where,
        )
    op = _numeric_operator(arg[0], where)
    number = _numeric_operand(arg[1], op, where)
    if len(arg) == 2:
        if op != "=" and number == (_DBL_MAX if op[0] == ">" else -_DBL_MAX):
            raise PatternError(  # event-ruler fails to compile these one-point ranges
                f"{_show(arg)} is an empty or one-value range at the end of the double "
                f'range; write ["=", {_show(number)}] for that value',
                where,
            )
        if op == "=":
            leaf.nums.add(_num_key(number))
        elif op in ("<", "<="):
            leaf.ranges.append(_closed_range(-_DBL_MAX, False, number, op == "<"))
        else:
            leaf.ranges.append(_closed_range(number, op == ">", _DBL_MAX, False))
        return
    upper_op = _numeric_operator(arg[2], where)
    if op not in (">", ">=") or upper_op not in ("<", "<="):
        raise PatternError(
            'a numeric range is a lower bound (">" or ">=") followed by an upper bound '
            f'("<" or "<="); got {_show(arg)}',
            where,
        )
    upper = _numeric_operand(arg[3], upper_op, where)
    if not number < upper:
        raise PatternError(
            "the lower bound of a numeric range must be less than its upper bound; "
            f"got {_show(arg)}",
            where,
        )
    leaf.ranges.append(_closed_range(number, op == ">", upper, upper_op == "<"))


def _numeric_operator(op: Any, where: str) -> str:
    if not isinstance(op, str) or op not in _NUMERIC_OPS:
        raise PatternError(
            f'unknown numeric operator {_show(op)}; expected "=", "<", "<=", ">" or ">="', where
        )
    return op


def _numeric_operand(value: Any, op: str, where: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PatternError(
            f"the operand of {op!r} must be a number, not {_json_type(value)} ({_show(value)})",
            where,
        )
    return _comparable(_finite(value, where, f"the operand of {op!r}"), where)


def _comparable(value: int | float, where: str) -> int | float:
    """Refuse numbers event-ruler cannot compare (see :func:`_is_comparable_int`)."""
    if isinstance(value, _LongFloat) or (isinstance(value, int) and not _is_comparable_int(value)):
        raise PatternError(
            f"{_show(value)} cannot be compared as a number: it has more digits than the "
            "shortest form of the nearest 64-bit float",
            where,
        )
    return value


def _num_key(value: int | float) -> _NumKey:
    """What an exact number is matched by: its value, or its digits if it is no number.

    An int event-ruler cannot compare as a double only matches the same int
    (event-ruler compares such numbers as text), never a float.
    """
    if isinstance(value, int) and not _is_comparable_int(value):
        return ("digits", value)
    return value


def _number_set(values: Iterable[_NumKey]) -> Predicate:
    """Membership of an int or float in a set of :func:`_num_key` keys."""
    keys = frozenset(_num_key(v) if not isinstance(v, tuple) else v for v in values)
    limit = _EXACT_INTS

    def contains(v: Any) -> bool:
        if type(v) is float or -limit <= v <= limit:
            return v in keys
        return _num_key(v) in keys

    return contains


def _is_comparable_int(value: int) -> bool:
    """Whether event-ruler treats an int as a number rather than as text.

    It compares numbers as doubles and accepts one only if the double's shortest
    decimal form is the number itself: 2**53 + 1 and 2**60 are not numbers to it
    (their doubles print as 9007199254740992 and 1.152921504606847E18), 10**20 is.
    """
    if -_EXACT_INTS <= value <= _EXACT_INTS:
        return True
    try:
        return Decimal(repr(float(value))) == value
    except OverflowError:
        return False


def _op_exists(arg: Any, leaf: _Leaf, where: str) -> None:
    if not isinstance(arg, bool):
        raise PatternError(f"exists takes true or false, not {_show(arg)}", where)
    if arg:
        leaf.str_always = leaf.num_always = leaf.const_always = True
    else:
        leaf.absent = True


def _op_cidr(arg: Any, leaf: _Leaf, where: str) -> None:
    leaf.ips.append(_parse_cidr(_need_str(arg, "cidr", where), where))


def _op_anything_but(arg: Any, leaf: _Leaf, where: str) -> None:
    if isinstance(arg, Mapping):
        refused = _anything_but_strings(arg, where)
        leaf.str_preds.append(_negate(refused))
        leaf.num_always = leaf.const_always = True
        return
    values = list(arg) if isinstance(arg, (list, tuple)) else [arg]
    if not values:
        raise PatternError("anything-but needs at least one value", where)
    if all(isinstance(v, str) for v in values):
        refused_strs = frozenset(values)
        leaf.str_preds.append(lambda v: v not in refused_strs)
        leaf.num_always = leaf.const_always = True
    elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        refused = _number_set(
            _comparable(_finite(v, where, "an anything-but value"), where) for v in values
        )
        leaf.num_preds.append(lambda v: not refused(v))
        leaf.str_always = leaf.const_always = True
    else:
        raise PatternError(
            "anything-but takes a string, a number, an array of only strings or of only "
            "numbers, or one of {prefix, suffix, equals-ignore-case, wildcard}; "
            f"got {_show(arg)}",
            where,
        )


_ANYTHING_BUT_FORMS: Final = ("equals-ignore-case", "prefix", "suffix", "wildcard")


def _anything_but_strings(arg: Mapping[str, Any], where: str) -> Predicate:
    """The string test an ``anything-but`` object form refuses."""
    if len(arg) != 1 or next(iter(arg)) not in _ANYTHING_BUT_FORMS:
        raise PatternError(
            "anything-but takes one of "
            + ", ".join(f'{{"{form}": ...}}' for form in _ANYTHING_BUT_FORMS)
            + f"; got {_show(arg)}",
            where,
        )
    ((form, operand),) = arg.items()
    texts = list(operand) if isinstance(operand, (list, tuple)) else [operand]
    if not texts or not all(isinstance(t, str) for t in texts):
        raise PatternError(
            f"anything-but {form} takes a string or a non-empty array of strings, "
            f"not {_show(operand)}",
            where,
        )
    if form in ("prefix", "suffix") and "" in texts:
        raise PatternError(f"anything-but {form} cannot be the empty string", where)
    if form == "prefix":
        return methodcaller("startswith", tuple(texts))
    if form == "suffix":
        return methodcaller("endswith", tuple(texts))
    if form == "equals-ignore-case":
        ascii_lower = frozenset(t.lower() for t in texts if t.isascii())
        tests: list[Predicate] = [_ci_equals(t) for t in texts if not t.isascii()]
        if ascii_lower:
            tests.insert(0, lambda v: v.isascii() and v.lower() in ascii_lower)
        return _first_true(tests)
    tests = []
    for text in texts:
        segments = _parse_wildcard(text, where)
        if len(segments) == 1:
            literal = segments[0]
            tests.append(literal.__eq__)
        else:
            tests.append(_wildcard_predicate(segments))
    return _first_true(tests)


def _negate(test: Predicate) -> Predicate:
    return lambda v: not test(v)


_HANDLERS: Final[dict[str, Callable[[Any, _Leaf, str], None]]] = {
    "anything-but": _op_anything_but,
    "cidr": _op_cidr,
    "equals-ignore-case": _op_equals_ignore_case,
    "exactly": _op_exactly,
    "exists": _op_exists,
    "numeric": _op_numeric,
    "prefix": _op_prefix,
    "suffix": _op_suffix,
    "wildcard": _op_wildcard,
}


def _need_str(arg: Any, op: str, where: str, alternative: str = "") -> str:
    if not isinstance(arg, str):
        other = f" or {alternative}" if alternative else ""
        raise PatternError(
            f"{op} takes a string{other}, not {_json_type(arg)} ({_show(arg)})", where
        )
    return arg


def _ci_operand(arg: Mapping[str, Any], op: str, where: str) -> str:
    if len(arg) != 1 or "equals-ignore-case" not in arg:
        raise PatternError(
            f'{op} takes a string or {{"equals-ignore-case": "..."}}; got {_show(arg)}', where
        )
    return _need_str(arg["equals-ignore-case"], f"{op} equals-ignore-case", where)


# ---------------------------------------------------------------------------
# String tests


def _ci_regex(text: str) -> str:
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


def _ci_equals(text: str) -> Predicate:
    fullmatch = re.compile(_ci_regex(text), re.DOTALL).fullmatch
    return lambda v: fullmatch(v) is not None


def _ci_prefix(text: str) -> Predicate:
    if text.isascii():
        n, lower = len(text), text.lower()

        def ascii_prefix(v: str) -> bool:
            head = v[:n]
            return head.isascii() and head.lower() == lower

        return ascii_prefix
    match = re.compile(_ci_regex(text), re.DOTALL).match
    return lambda v: match(v) is not None


def _ci_suffix(text: str) -> Predicate:
    if text.isascii():
        n, lower = len(text), text.lower()
        if n == 0:
            return _always

        def ascii_suffix(v: str) -> bool:
            tail = v[-n:]
            return tail.isascii() and tail.lower() == lower

        return ascii_suffix
    search = re.compile(_ci_regex(text) + r"\Z", re.DOTALL).search
    return lambda v: search(v) is not None


def _parse_wildcard(text: str, where: str) -> list[str]:
    """Split a wildcard pattern at its unescaped stars into literal segments."""
    segments: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "*":
            if i + 1 < n and text[i + 1] == "*":
                raise PatternError(
                    f"wildcard {_show(text)} has consecutive '*' at position {i}; one '*' already "
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
                    f"wildcard {_show(text)} has a backslash at position {i} that escapes "
                    "neither '*' nor '\\'",
                    where,
                )
        else:
            current.append(char)
        i += 1
    segments.append("".join(current))
    return segments


def _wildcard_predicate(segments: list[str]) -> Predicate:
    """Glob test for literal segments separated by stars (at least two segments)."""
    first, last = segments[0], segments[-1]
    middle = tuple(s for s in segments[1:-1] if s)
    shortest = sum(map(len, segments))
    if not middle:
        if not first and not last:
            return _always
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


# ---------------------------------------------------------------------------
# Wildcard complexity
#
# EventBridge refuses a pattern whose wildcards are "too complex": it builds
# event-ruler's matching machine for the pattern's $or branches that hold a
# wildcard and measures it with event-ruler's MachineComplexityEvaluator, which
# finds the most wildcard-pattern prefixes that one value can be matching at
# once (for "*a*", the value "a" keeps "*", "*a" and "*a*" matching). Over 10
# is refused. Values are matched as their JSON text, byte by byte, quotes
# included; the alternatives of one field are measured together, and so are
# those of the same field in $or branches that reach it through the same values.

_MAX_WILDCARD_COMPLEXITY: Final = 10
_STAR: Final = -1  # a '*' among the bytes of a wildcard pattern
_ABSENT_TERM: Final = _term({"exists": False})


class _NameState:
    """Where matching stands after some fields: event-ruler's NameState."""

    __slots__ = ("fields",)

    def __init__(self) -> None:
        self.fields: dict[_Path, _FieldMachine] = {}


class _FieldMachine:
    """The alternatives of one field at one NameState, and where each leads."""

    __slots__ = ("next", "reached", "terms")

    def __init__(self) -> None:
        self.terms: dict[Hashable, tuple[str, ...]] = {}
        self.next: dict[Hashable, _NameState] = {}
        self.reached: list[_NameState] = []  # through a value, not through exists: false


def _check_complexity(branches: Sequence[_Branch]) -> None:
    """Refuse the pattern if a field's wildcards are too complex for EventBridge."""
    with_wildcards = [
        branch
        for branch in branches
        if any(wildcards for leaf in branch.values() for _, wildcards in leaf.terms)
    ]
    if not with_wildcards:
        return
    root = _NameState()
    for branch in with_wildcards:
        states = [root]
        for path in sorted(branch, key=_dotted):  # event-ruler adds fields by name
            following: dict[int, _NameState] = {}
            for state in states:
                machine = state.fields.setdefault(path, _FieldMachine())
                added: _NameState | None = None
                for identity, wildcards in branch[path].terms:
                    machine.terms.setdefault(identity, wildcards)
                    step = machine.next.get(identity)
                    if step is None:
                        step = added = added or _NameState()
                        machine.next[identity] = step
                        if identity != _ABSENT_TERM:
                            machine.reached.append(step)
                    following[id(step)] = step
            states = list(following.values())
    seen: set[int] = set()
    pending = [root]
    while pending:
        state = pending.pop()
        if id(state) in seen:
            continue
        seen.add(id(state))
        for path, machine in state.fields.items():
            texts = [wildcards for wildcards in machine.terms.values() if wildcards]
            complexity = _wildcard_complexity(
                [[_wildcard_bytes(text) for text in wildcards] for wildcards in texts]
            )
            if complexity > _MAX_WILDCARD_COMPLEXITY:
                raise PatternError(
                    "the wildcard patterns of this field are too complex for EventBridge: "
                    f"one value can keep {complexity} of their prefixes matching at once, "
                    f"and at most {_MAX_WILDCARD_COMPLEXITY} are allowed; use fewer '*', "
                    "fewer repeated characters after a '*', or fewer wildcard patterns",
                    _dotted(path),
                )
            pending.extend(machine.reached)


def _wildcard_bytes(text: str) -> tuple[int, ...]:
    """The bytes a wildcard pattern matches, '*' as _STAR, between JSON quotes."""
    out = [ord('"')]
    for i, segment in enumerate(_parse_wildcard(text, "")):
        if i:
            out.append(_STAR)
        out.extend(segment.encode())
    out.append(ord('"'))
    return tuple(out)


_Prefix: TypeAlias = tuple[int, int, int]  # (pattern, path of the pattern, bytes matched)


def _wildcard_complexity(
    patterns: Sequence[Sequence[tuple[int, ...]]], limit: int = _MAX_WILDCARD_COMPLEXITY
) -> int:
    """The most prefixes of ``patterns`` one input can be matching at once.

    Each pattern is one or more paths of bytes (an anything-but wildcard lists
    several). A prefix counts once per pattern however many paths share it up
    to their first star, as they share that state in event-ruler's machine.
    The search stops as soon as it finds more than ``limit``.
    """
    if not patterns:
        return 0

    def closure(prefixes: Iterable[_Prefix]) -> frozenset[_Prefix]:
        out = set()
        for p, q, n in prefixes:
            path = patterns[p][q]
            out.add((p, q, n))
            while n < len(path) and path[n] == _STAR:  # a star can match nothing
                n += 1
                out.add((p, q, n))
        return frozenset(out)

    def count(prefixes: frozenset[_Prefix]) -> int:
        seen = set()
        for p, q, n in prefixes:
            path = patterns[p][q]
            first_star = path.index(_STAR) if _STAR in path else len(path)
            seen.add((p, path[:n]) if n <= first_star + 1 else (p, q, n))
        return len(seen)

    literals = {b for paths in patterns for path in paths for b in path if b != _STAR}
    other = next(b for b in range(256) if b not in literals) if len(literals) < 256 else None
    start = closure((p, q, 0) for p, paths in enumerate(patterns) for q in range(len(paths)))
    seen_states = {start}
    pending = [start]
    worst = 0
    while pending:
        state = pending.pop()
        following = {patterns[p][q][n] for p, q, n in state if n < len(patterns[p][q])}
        following.discard(_STAR)
        if other is not None:
            following.add(other)  # stands for every byte no pattern names here
        for byte in following:
            step = closure(
                (p, q, m)
                for p, q, n in state
                for m in (n + 1, n)
                if (m > n and n < len(patterns[p][q]) and patterns[p][q][n] == byte)
                or (m == n and n > 0 and patterns[p][q][n - 1] == _STAR)
            )
            if not step:
                continue
            worst = max(worst, count(step))
            if worst > limit:
                return worst
            if step not in seen_states:
                seen_states.add(step)
                pending.append(step)
    return worst


# ---------------------------------------------------------------------------
# IP addresses


def _parse_ip(text: str) -> tuple[int, int] | None:
    """``(4 or 6, address)`` when ``text`` is an IP address literal, else None.

    Like Java's ``InetAddress``, an IPv4-mapped IPv6 address counts as IPv4.
    """
    if _IPV4_RE.fullmatch(text):
        address = 0
        for part in text.split("."):
            digits = part.lstrip("0")  # decimal even with leading zeros, as in Java
            if len(digits) > 3:
                return None
            octet = int(digits or "0")
            if octet > 255:
                return None
            address = address << 8 | octet
        return 4, address
    if ":" in text and _IPV6_RE.fullmatch(text):
        try:
            v6 = ipaddress.IPv6Address(text)
        except ValueError:
            return None
        mapped = v6.ipv4_mapped
        if mapped is not None:
            return 4, int(mapped)
        return 6, int(v6)
    return None


def _parse_cidr(text: str, where: str) -> tuple[int, int, int]:
    address, slash, bits_text = text.partition("/")
    if not slash or "/" in bits_text:
        raise PatternError(f"cidr {_show(text)} must have exactly one '/'", where)
    ip = _parse_ip(address)
    if ip is None:
        raise PatternError(f"cidr {_show(text)}: {address!r} is not an IPv4 or IPv6 address", where)
    if not (bits_text.isascii() and bits_text.isdigit()):
        raise PatternError(
            f"cidr {_show(text)}: the mask length must be a non-negative integer", where
        )
    version, value = ip
    width = 32 if version == 4 else 128
    bits = int(bits_text) if len(bits_text) <= 4 else width
    if bits >= width:  # event-ruler's limit; a single address is written without a mask
        raise PatternError(
            f"cidr {_show(text)}: an IPv{version} mask length must be less than {width}; "
            f"to match a single address list it as a plain string, e.g. [{address!r}]",
            where,
        )
    host = (1 << (width - bits)) - 1
    return version, value & ~host, value | host


def _ip_predicate(ranges: tuple[tuple[int, int, int], ...]) -> Predicate:
    def in_ranges(v: str) -> bool:
        ip = _parse_ip(v)
        if ip is None:
            return False
        version, value = ip
        for range_version, low, high in ranges:
            if version == range_version and low <= value <= high:
                return True
        return False

    return in_ranges


# ---------------------------------------------------------------------------
# Numbers


def _closed_range(
    low: int | float, low_open: bool, high: int | float, high_open: bool
) -> tuple[float, float]:
    """The same range of doubles with both ends closed.

    Values and bounds are doubles (event-ruler compares numbers as doubles, and
    ints it does not take for numbers never match a range, see
    :func:`_is_comparable_int`), so ``v > low`` is ``v >= nextafter(low, +inf)``.
    One-sided ranges end at the largest double, which also keeps infinities and
    NaN out.
    """
    lo, hi = float(low), float(high)
    if low_open:
        lo = math.nextafter(lo, math.inf)
    if high_open:
        hi = math.nextafter(hi, -math.inf)
    return lo, hi


def _range_test(lo: float, hi: float) -> Predicate:
    """``lo <= v <= hi`` for an int or a float."""
    limit = _EXACT_INTS

    def in_range(v: Any) -> bool:
        return lo <= v <= hi and (type(v) is float or -limit <= v <= limit or _is_comparable_int(v))

    return in_range


# ---------------------------------------------------------------------------
# Compiling a leaf


def _first_true(tests: Sequence[Predicate]) -> Predicate:
    if not tests:
        return _never
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda v: a(v) or b(v)
    fns = tuple(tests)

    def first_true(v: Any) -> bool:
        for fn in fns:  # noqa: SIM110 - any() over a generator allocates per call
            if fn(v):
                return True
        return False

    return first_true


def _str_test(leaf: _Leaf) -> Predicate:
    if leaf.str_always:
        return _always
    tests: list[Predicate] = []
    if leaf.strs:
        tests.append(frozenset(leaf.strs).__contains__)
    if leaf.prefixes:
        tests.append(methodcaller("startswith", tuple(leaf.prefixes)))
    if leaf.suffixes:
        tests.append(methodcaller("endswith", tuple(leaf.suffixes)))
    if leaf.ci_ascii:
        lowered = frozenset(leaf.ci_ascii)
        tests.append(lambda v: v.isascii() and v.lower() in lowered)
    tests.extend(leaf.str_preds)
    if leaf.ips:
        tests.append(_ip_predicate(tuple(leaf.ips)))
    return _first_true(tests)


def _num_test(leaf: _Leaf) -> Predicate:
    if leaf.num_always:
        return _always
    tests: list[Predicate] = []
    if leaf.nums:
        tests.append(_number_set(leaf.nums))
    tests.extend(_range_test(lo, hi) for lo, hi in leaf.ranges)
    tests.extend(leaf.num_preds)
    return _first_true(tests)


def _const_test(leaf: _Leaf) -> Predicate:
    if leaf.const_always:
        return _always
    if leaf.consts:
        # Only ever called with True, False or None, so 1 == True cannot confuse it.
        return frozenset(leaf.consts).__contains__
    return _never


def _scalar_test(leaf: _Leaf) -> Predicate:
    """A test of one scalar JSON value, dispatching on its type."""
    on_str, on_num, on_const = _str_test(leaf), _num_test(leaf), _const_test(leaf)

    def scalar(v: Any) -> bool:
        t = type(v)
        if t is str:
            return on_str(v)
        if t is int or t is float:
            return on_num(v)
        if v is None or t is bool:
            return on_const(v)
        return _unusual_scalar(v, on_str, on_num, on_const)

    return scalar


def _unusual_scalar(v: Any, on_str: Predicate, on_num: Predicate, on_const: Predicate) -> bool:
    """Subclasses of the JSON types are their type; anything else only ``exists``."""
    if isinstance(v, bool):
        return on_const(bool(v))
    if isinstance(v, str):
        return on_str(str(v))
    if isinstance(v, int):
        return on_num(int(v))
    if isinstance(v, float):
        return on_num(float(v))
    if isinstance(v, (Mapping, list, tuple)):
        return False  # containers are no values (nested arrays are flattened before this)
    return on_str is _always and on_num is _always and on_const is _always


def _compile_leaf(leaf: _Leaf) -> Predicate:
    """Test of the value found at a field, for a leaf without ``exists: false``."""
    on_str, on_num, on_const = _str_test(leaf), _num_test(leaf), _const_test(leaf)
    scalar = _scalar_test(leaf)

    def in_array(items: Any) -> bool:
        for item in items:
            t = type(item)
            if t is list or t is tuple:
                if in_array(item):
                    return True
            elif t is not dict and scalar(item):
                return True
        return False

    def other(w: Any) -> bool:
        if w is _MISSING or isinstance(w, Mapping):
            return False
        if isinstance(w, (list, tuple)):
            return in_array(w)
        return _unusual_scalar(w, on_str, on_num, on_const)

    # Specialised for the common single-operator leaves: no call beyond this one.
    fast = _fast_leaf(leaf, in_array, other)
    if fast is not None:
        return fast
    if on_num is _never and on_const is _never:

        def str_leaf(w: Any) -> bool:
            if type(w) is str:
                return on_str(w)
            if type(w) is list:
                return in_array(w)
            return other(w)

        return str_leaf
    if on_str is _never and on_const is _never:

        def num_leaf(w: Any) -> bool:
            t = type(w)
            if t is int or t is float:
                return on_num(w)
            if t is list:
                return in_array(w)
            return other(w)

        return num_leaf

    def leaf_test(w: Any) -> bool:
        t = type(w)
        if t is str:
            return on_str(w)
        if t is int or t is float:
            return on_num(w)
        if t is list:
            return in_array(w)
        if w is None or t is bool:
            return on_const(w)
        return other(w)

    return leaf_test


def _fast_leaf(leaf: _Leaf, in_array: Predicate, other: Predicate) -> Predicate | None:
    """A leaf test with its single kind of test inlined, or None if it has several kinds."""
    kinds = (
        leaf.strs,
        leaf.prefixes,
        leaf.suffixes,
        leaf.ci_ascii,
        leaf.ips,
        leaf.str_preds,
        leaf.nums,
        leaf.ranges,
        leaf.num_preds,
        leaf.consts,
    )
    if sum(1 for kind in kinds if kind) != 1 or leaf.str_always or leaf.num_always:
        return None
    if leaf.const_always:
        return None
    if leaf.strs:
        strs = frozenset(leaf.strs)

        def exact_leaf(w: Any) -> bool:
            if type(w) is str:
                return w in strs
            if type(w) is list:
                return in_array(w)
            return other(w)

        return exact_leaf
    if leaf.prefixes:
        prefixes = tuple(leaf.prefixes)

        def prefix_leaf(w: Any) -> bool:
            if type(w) is str:
                return w.startswith(prefixes)
            if type(w) is list:
                return in_array(w)
            return other(w)

        return prefix_leaf
    if leaf.suffixes:
        suffixes = tuple(leaf.suffixes)

        def suffix_leaf(w: Any) -> bool:
            if type(w) is str:
                return w.endswith(suffixes)
            if type(w) is list:
                return in_array(w)
            return other(w)

        return suffix_leaf
    if leaf.nums:
        nums = frozenset(leaf.nums)
        limit = _EXACT_INTS

        def number_leaf(w: Any) -> bool:
            t = type(w)
            if t is float or (t is int and -limit <= w <= limit):
                return w in nums
            if t is int:
                return _num_key(w) in nums
            if t is list:
                return in_array(w)
            return other(w)

        return number_leaf
    if len(leaf.ranges) == 1:
        ((lo, hi),) = leaf.ranges
        limit = _EXACT_INTS

        def range_leaf(w: Any) -> bool:
            t = type(w)
            if t is float:
                x: float = w
                return lo <= x <= hi
            if t is int:
                return lo <= w <= hi and (-limit <= w <= limit or _is_comparable_int(w))
            if t is list:
                return in_array(w)
            return other(w)

        return range_leaf
    return None


def _scalars(w: Any) -> Iterator[Any]:
    """The leaf values at a field: arrays are flattened, objects hold none."""
    if w is _MISSING or isinstance(w, Mapping):
        return
    if isinstance(w, (list, tuple)):
        for item in w:
            yield from _scalars(item)
    else:
        yield w


def _compile_leaf_tri(leaf: _Leaf) -> _Tri:
    """Three-way test of the value at a field whose alternatives include ``exists: false``."""
    scalar = _scalar_test(leaf)
    when_none = _ABSENT if leaf.absent else _NO

    def leaf_tri(w: Any) -> int:
        seen = False
        for v in _scalars(w):
            if scalar(v):
                return _VALUE
            seen = True
        return _NO if seen else when_none

    return leaf_tri


# ---------------------------------------------------------------------------
# Compiling a branch


def _compile_branch(tree: _Tree) -> Predicate:
    """Test of a whole event; an event that is not a JSON object never matches."""
    if not tree.has_absence():
        fields = tuple((name, _compile_node(child)) for name, child in _ordered(tree))
        on_object = _with_dotted_keys(tree, _object_test(fields))

        def root(event: Any) -> bool:
            if type(event) is dict or isinstance(event, Mapping):
                return on_object(event)
            return False

        return root
    tri = _compile_node_tri(tree)
    return lambda event: isinstance(event, Mapping) and tri(event) != _NO


def _ordered(tree: _Tree) -> list[tuple[str, _Tree]]:
    # Plain fields first: they are cheaper than descending into objects.
    return sorted(tree.children.items(), key=lambda item: bool(item[1].children))


def _compile_node(tree: _Tree) -> Predicate:
    """Boolean test of the value at a position, for a sub-pattern without ``exists: false``."""
    if not tree.children:
        assert tree.leaf is not None
        return _compile_leaf(tree.leaf)
    fields = tuple((name, _compile_node(child)) for name, child in _ordered(tree))
    on_object = _with_dotted_keys(tree, _object_test(fields))

    def node(w: Any) -> bool:
        t = type(w)
        if t is dict:
            return on_object(w)
        if t is list:
            # The whole sub-pattern must hold in one element (array consistency).
            for item in w:  # noqa: SIM110 - any() over a generator allocates per call
                if node(item):
                    return True
            return False
        if isinstance(w, Mapping):
            return on_object(w)
        if isinstance(w, tuple):
            return any(node(item) for item in w)
        return False

    if tree.leaf is None:
        return node
    own = _compile_leaf(tree.leaf)  # the pattern tests this field both as a value and as an object
    return lambda w: own(w) and node(w)


# ---------------------------------------------------------------------------
# Dotted keys: event-ruler names a field by its path joined with dots, so the
# event key "a.b" and the key "b" inside the object at "a" name the same field.


def _dotted_view(tree: _Tree) -> Callable[[Mapping[str, Any]], Mapping[str, Any]] | None:
    """What an object looks like to ``tree`` once its dotted keys are nested, or None.

    Only keys naming a field of the sub-pattern count ("a.b" when it has a → b),
    so they are looked up directly: an object without any allocates nothing.
    None when the sub-pattern is one level deep (no key can then reach a field).
    """
    dotted = tuple((".".join(path), path) for path in _descendant_paths(tree))
    if not dotted:
        return None
    missing = _MISSING

    def view(d: Mapping[str, Any]) -> Mapping[str, Any]:
        found: list[tuple[_Path, Any]] | None = None
        for key, path in dotted:
            value = d.get(key, missing)
            if value is not missing:
                if found is None:
                    found = []
                found.append((path, value))
        return d if found is None else _nest_dotted(d, found)

    return view


def _with_dotted_keys(tree: _Tree, on_object: Predicate) -> Predicate:
    view = _dotted_view(tree)
    if view is None:
        return on_object
    keys = tuple(".".join(path) for path in _descendant_paths(tree))
    if len(keys) == 1:
        (key,) = keys
        return lambda d: on_object(view(d) if key in d else d)
    if len(keys) == 2:
        key0, key1 = keys
        return lambda d: on_object(view(d) if key0 in d or key1 in d else d)

    def dotted_keys(d: Any) -> bool:
        for key in keys:
            if key in d:
                return on_object(view(d))
        return on_object(d)

    return dotted_keys


def _descendant_paths(tree: _Tree) -> list[_Path]:
    """The paths of two names or more from ``tree`` to its sub-patterns."""
    paths: list[_Path] = []

    def collect(node: _Tree, path: _Path) -> None:
        for name, child in node.children.items():
            here = (*path, name)
            if len(here) > 1:
                paths.append(here)
            collect(child, here)

    collect(tree, ())
    return paths


def _nest_dotted(d: Mapping[str, Any], found: list[tuple[_Path, Any]]) -> dict[str, Any]:
    """A copy of ``d`` where each dotted key's value is also found at its nested path."""
    out = dict(d)
    for path, value in found:
        for name in reversed(path[1:]):
            value = {name: value}
        out[path[0]] = _merge(out.get(path[0], _MISSING), value)
    return out


def _merge(x: Any, y: Any) -> Any:
    """One value holding both ``x`` and ``y``, found at the same path by different keys.

    Objects merge field by field. An array keeps its array consistency: the
    other value's fields join each of its objects (they hold whichever element
    is chosen). Values with no fields to share become the elements of a list,
    where a field matches if any of them does.
    """
    if x is _MISSING:
        return y
    if isinstance(x, Mapping) and isinstance(y, Mapping):
        out = dict(x)
        for key, value in y.items():
            out[key] = _merge(out.get(key, _MISSING), value)
        return out
    if isinstance(y, (list, tuple)) and not isinstance(x, (list, tuple)):
        x, y = y, x
    if isinstance(x, (list, tuple)):
        if _holds_object(x) and _holds_object(y):
            return [_merge(item, y) if _holds_object(item) else item for item in x]
        return [*x, y]
    return [x, y]


def _holds_object(w: Any) -> bool:
    if isinstance(w, Mapping):
        return True
    return isinstance(w, (list, tuple)) and any(_holds_object(item) for item in w)


def _object_test(fields: tuple[tuple[str, Predicate], ...]) -> Predicate:
    """All fields hold; unrolled for up to five fields (``d.get`` per field allocates nothing)."""
    missing = _MISSING
    if len(fields) == 1:
        ((name, test),) = fields
        return lambda d: test(d.get(name, missing))
    if len(fields) == 2:
        (name0, test0), (name1, test1) = fields

        def two(d: Any) -> bool:
            return test0(d.get(name0, missing)) and test1(d.get(name1, missing))

        return two
    if len(fields) == 3:
        (name0, test0), (name1, test1), (name2, test2) = fields

        def three(d: Any) -> bool:
            return (
                test0(d.get(name0, missing))
                and test1(d.get(name1, missing))
                and test2(d.get(name2, missing))
            )

        return three
    if len(fields) == 4:
        (name0, test0), (name1, test1), (name2, test2), (name3, test3) = fields

        def four(d: Any) -> bool:
            return (
                test0(d.get(name0, missing))
                and test1(d.get(name1, missing))
                and test2(d.get(name2, missing))
                and test3(d.get(name3, missing))
            )

        return four
    if len(fields) == 5:
        (name0, test0), (name1, test1), (name2, test2), (name3, test3), (name4, test4) = fields

        def five(d: Any) -> bool:
            return (
                test0(d.get(name0, missing))
                and test1(d.get(name1, missing))
                and test2(d.get(name2, missing))
                and test3(d.get(name3, missing))
                and test4(d.get(name4, missing))
            )

        return five

    def every(d: Any) -> bool:
        for name, test in fields:  # noqa: SIM110 - all() over a generator allocates per call
            if not test(d.get(name, missing)):
                return False
        return True

    return every


def _compile_node_tri(tree: _Tree) -> _Tri:
    """Three-way test of the value at a position, for a sub-pattern with ``exists: false``.

    In an array, the sub-pattern matches with a value if it does so in one
    element; it matches by absence only if it does so in every element (so the
    absent fields are absent from the whole array).
    """
    if not tree.has_absence():
        test = _compile_node(tree)
        return lambda w: _VALUE if test(w) else _NO
    if not tree.children:
        assert tree.leaf is not None
        return _compile_leaf_tri(tree.leaf)
    fields = tuple((name, _compile_node_tri(child)) for name, child in _ordered(tree))
    view = _dotted_view(tree)

    def on_object(d: Mapping[str, Any]) -> int:
        if view is not None:
            d = view(d)
        result = _ABSENT
        for name, test in fields:
            outcome = test(d.get(name, _MISSING))
            if outcome == _NO:
                return _NO
            if outcome == _VALUE:
                result = _VALUE
        return result

    when_missing = on_object({})  # a missing field or a scalar has no sub-fields

    def node_tri(w: Any) -> int:
        if isinstance(w, Mapping):
            return on_object(w)
        if isinstance(w, (list, tuple)):
            every_absent = True
            for item in w:
                outcome = node_tri(item)
                if outcome == _VALUE:
                    return _VALUE
                if outcome == _NO:
                    every_absent = False
            # Absent from every element (vacuously so for []) counts only if the
            # sub-pattern can hold by absence alone, as on a missing field.
            return when_missing if every_absent else _NO
        return when_missing

    if tree.leaf is None:
        return node_tri
    own = _compile_leaf_tri(tree.leaf)

    def both(w: Any) -> int:
        first, second = own(w), node_tri(w)
        if first == _NO or second == _NO:
            return _NO
        return max(first, second)

    return both
