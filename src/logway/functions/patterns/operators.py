"""The operators of a value list ({"prefix": ...}, {"numeric": ...}, ...): each checks
its operand and adds its test to the leaf of the field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import methodcaller
from typing import Any, Final

from logway.functions.patterns.addresses import parse_cidr
from logway.functions.patterns.errors import PatternError
from logway.functions.patterns.json_text import json_type, show
from logway.functions.patterns.leaves import first_true
from logway.functions.patterns.numbers import (
    DBL_MAX,
    closed_range,
    comparable,
    finite,
    num_key,
    number_set,
)
from logway.functions.patterns.text import (
    ci_equals,
    ci_prefix,
    ci_suffix,
    parse_wildcard,
    wildcard_predicate,
)
from logway.functions.patterns.tree import Leaf, Predicate

OPERATORS: Final = (
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
RESERVED_IN_OR: Final = frozenset(
    (
        *OPERATORS,
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

NUMERIC_OPS: Final = frozenset(("=", "<", "<=", ">", ">="))


def parse_operator(expression: Mapping[str, Any], leaf: Leaf, where: str) -> None:
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
    handler = HANDLERS.get(op)
    if handler is None:
        raise PatternError(
            f"unknown operator {op!r}; expected one of {', '.join(OPERATORS)}", where
        )
    handler(arg, leaf, where)


def op_exactly(arg: Any, leaf: Leaf, where: str) -> None:
    leaf.strs.add(need_str(arg, "exactly", where))


def op_prefix(arg: Any, leaf: Leaf, where: str) -> None:
    if isinstance(arg, Mapping):
        leaf.str_preds.append(ci_prefix(ci_operand(arg, "prefix", where)))
    else:
        leaf.prefixes.append(need_str(arg, "prefix", where, '{"equals-ignore-case": "..."}'))


def op_suffix(arg: Any, leaf: Leaf, where: str) -> None:
    if isinstance(arg, Mapping):
        leaf.str_preds.append(ci_suffix(ci_operand(arg, "suffix", where)))
    else:
        leaf.suffixes.append(need_str(arg, "suffix", where, '{"equals-ignore-case": "..."}'))


def op_equals_ignore_case(arg: Any, leaf: Leaf, where: str) -> None:
    text = need_str(arg, "equals-ignore-case", where)
    if text.isascii():
        leaf.ci_ascii.add(text.lower())
    else:
        leaf.str_preds.append(ci_equals(text))


def op_wildcard(arg: Any, leaf: Leaf, where: str) -> None:
    segments = parse_wildcard(need_str(arg, "wildcard", where), where)
    if len(segments) == 1:
        leaf.strs.add(segments[0])  # no star: plain equality
    else:
        leaf.str_preds.append(wildcard_predicate(segments))


def op_numeric(arg: Any, leaf: Leaf, where: str) -> None:
    if not isinstance(arg, (list, tuple)):
        raise PatternError(
            f'numeric takes an array such as ["<", 10] or [">", 0, "<=", 5], not {json_type(arg)}',
            where,
        )
    if len(arg) not in (2, 4):
        raise PatternError(
            f"numeric takes [operator, number] or [lower operator, number, upper operator, "
            f"number]; got {len(arg)} element(s): {show(arg)}",
            where,
        )
    op = numeric_operator(arg[0], where)
    number = numeric_operand(arg[1], op, where)
    if len(arg) == 2:
        if op != "=" and number == (DBL_MAX if op[0] == ">" else -DBL_MAX):
            raise PatternError(  # event-ruler fails to compile these one-point ranges
                f"{show(arg)} is an empty or one-value range at the end of the double "
                f'range; write ["=", {show(number)}] for that value',
                where,
            )
        if op == "=":
            leaf.nums.add(num_key(number))
        elif op in ("<", "<="):
            leaf.ranges.append(closed_range(-DBL_MAX, False, number, op == "<"))
        else:
            leaf.ranges.append(closed_range(number, op == ">", DBL_MAX, False))
        return
    upper_op = numeric_operator(arg[2], where)
    if op not in (">", ">=") or upper_op not in ("<", "<="):
        raise PatternError(
            'a numeric range is a lower bound (">" or ">=") followed by an upper bound '
            f'("<" or "<="); got {show(arg)}',
            where,
        )
    upper = numeric_operand(arg[3], upper_op, where)
    if not number < upper:
        raise PatternError(
            "the lower bound of a numeric range must be less than its upper bound; "
            f"got {show(arg)}",
            where,
        )
    leaf.ranges.append(closed_range(number, op == ">", upper, upper_op == "<"))


def numeric_operator(op: Any, where: str) -> str:
    if not isinstance(op, str) or op not in NUMERIC_OPS:
        raise PatternError(
            f'unknown numeric operator {show(op)}; expected "=", "<", "<=", ">" or ">="', where
        )
    return op


def numeric_operand(value: Any, op: str, where: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PatternError(
            f"the operand of {op!r} must be a number, not {json_type(value)} ({show(value)})",
            where,
        )
    return comparable(finite(value, where, f"the operand of {op!r}"), where)


def op_exists(arg: Any, leaf: Leaf, where: str) -> None:
    if not isinstance(arg, bool):
        raise PatternError(f"exists takes true or false, not {show(arg)}", where)
    if arg:
        leaf.str_always = leaf.num_always = leaf.const_always = True
    else:
        leaf.absent = True


def op_cidr(arg: Any, leaf: Leaf, where: str) -> None:
    leaf.ips.append(parse_cidr(need_str(arg, "cidr", where), where))


def op_anything_but(arg: Any, leaf: Leaf, where: str) -> None:
    if isinstance(arg, Mapping):
        refused = anything_but_strings(arg, where)
        leaf.str_preds.append(negate(refused))
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
        refused = number_set(
            comparable(finite(v, where, "an anything-but value"), where) for v in values
        )
        leaf.num_preds.append(lambda v: not refused(v))
        leaf.str_always = leaf.const_always = True
    else:
        raise PatternError(
            "anything-but takes a string, a number, an array of only strings or of only "
            "numbers, or one of {prefix, suffix, equals-ignore-case, wildcard}; "
            f"got {show(arg)}",
            where,
        )


ANYTHING_BUT_FORMS: Final = ("equals-ignore-case", "prefix", "suffix", "wildcard")


def anything_but_strings(arg: Mapping[str, Any], where: str) -> Predicate:
    """The string test an ``anything-but`` object form refuses."""
    if len(arg) != 1 or next(iter(arg)) not in ANYTHING_BUT_FORMS:
        raise PatternError(
            "anything-but takes one of "
            + ", ".join(f'{{"{form}": ...}}' for form in ANYTHING_BUT_FORMS)
            + f"; got {show(arg)}",
            where,
        )
    ((form, operand),) = arg.items()
    texts = list(operand) if isinstance(operand, (list, tuple)) else [operand]
    if not texts or not all(isinstance(t, str) for t in texts):
        raise PatternError(
            f"anything-but {form} takes a string or a non-empty array of strings, "
            f"not {show(operand)}",
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
        tests: list[Predicate] = [ci_equals(t) for t in texts if not t.isascii()]
        if ascii_lower:
            tests.insert(0, lambda v: v.isascii() and v.lower() in ascii_lower)
        return first_true(tests)
    tests = []
    for text in texts:
        segments = parse_wildcard(text, where)
        if len(segments) == 1:
            literal = segments[0]
            tests.append(literal.__eq__)
        else:
            tests.append(wildcard_predicate(segments))
    return first_true(tests)


def negate(test: Predicate) -> Predicate:
    return lambda v: not test(v)


HANDLERS: Final[dict[str, Callable[[Any, Leaf, str], None]]] = {
    "anything-but": op_anything_but,
    "cidr": op_cidr,
    "equals-ignore-case": op_equals_ignore_case,
    "exactly": op_exactly,
    "exists": op_exists,
    "numeric": op_numeric,
    "prefix": op_prefix,
    "suffix": op_suffix,
    "wildcard": op_wildcard,
}


def need_str(arg: Any, op: str, where: str, alternative: str = "") -> str:
    if not isinstance(arg, str):
        other = f" or {alternative}" if alternative else ""
        raise PatternError(f"{op} takes a string{other}, not {json_type(arg)} ({show(arg)})", where)
    return arg


def ci_operand(arg: Mapping[str, Any], op: str, where: str) -> str:
    if len(arg) != 1 or "equals-ignore-case" not in arg:
        raise PatternError(
            f'{op} takes a string or {{"equals-ignore-case": "..."}}; got {show(arg)}', where
        )
    return need_str(arg["equals-ignore-case"], f"{op} equals-ignore-case", where)
