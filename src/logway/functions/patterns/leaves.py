"""Compiled tests of the value found at one field (a leaf of the pattern).

Specialised by the kinds of alternative a leaf holds, so that the common
single-operator leaves cost one call; arrays match if any element does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import methodcaller
from typing import Any, Final, TypeAlias

from logway.functions.patterns.addresses import ip_predicate
from logway.functions.patterns.numbers import (
    EXACT_INTS,
    is_comparable_int,
    num_key,
    number_set,
    range_test,
)
from logway.functions.patterns.tree import Leaf, Predicate, always, never

Tri: TypeAlias = Callable[[Any], int]

MISSING: Final = object()  # stands for "the event has no such field"


# Outcomes of a sub-pattern that contains ``exists: false``: it failed, it held
# only because the fields it wants absent are absent, or it used a value.
NO: Final = 0

ABSENT: Final = 1


VALUE: Final = 2


def first_true(tests: Sequence[Predicate]) -> Predicate:
    if not tests:
        return never
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


def str_test(leaf: Leaf) -> Predicate:
    if leaf.str_always:
        return always
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
        tests.append(ip_predicate(tuple(leaf.ips)))
    return first_true(tests)


def num_test(leaf: Leaf) -> Predicate:
    if leaf.num_always:
        return always
    tests: list[Predicate] = []
    if leaf.nums:
        tests.append(number_set(leaf.nums))
    tests.extend(range_test(lo, hi) for lo, hi in leaf.ranges)
    tests.extend(leaf.num_preds)
    return first_true(tests)


def const_test(leaf: Leaf) -> Predicate:
    if leaf.const_always:
        return always
    if leaf.consts:
        # Only ever called with True, False or None, so 1 == True cannot confuse it.
        return frozenset(leaf.consts).__contains__
    return never


def scalar_test(leaf: Leaf) -> Predicate:
    """A test of one scalar JSON value, dispatching on its type."""
    on_str, on_num, on_const = str_test(leaf), num_test(leaf), const_test(leaf)

    def scalar(v: Any) -> bool:
        t = type(v)
        if t is str:
            return on_str(v)
        if t is int or t is float:
            return on_num(v)
        if v is None or t is bool:
            return on_const(v)
        return unusual_scalar(v, on_str, on_num, on_const)

    return scalar


def unusual_scalar(v: Any, on_str: Predicate, on_num: Predicate, on_const: Predicate) -> bool:
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
    return on_str is always and on_num is always and on_const is always


def compile_leaf(leaf: Leaf) -> Predicate:
    """Test of the value found at a field, for a leaf without ``exists: false``."""
    on_str, on_num, on_const = str_test(leaf), num_test(leaf), const_test(leaf)
    scalar = scalar_test(leaf)

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
        if w is MISSING or isinstance(w, Mapping):
            return False
        if isinstance(w, (list, tuple)):
            return in_array(w)
        return unusual_scalar(w, on_str, on_num, on_const)

    # Specialised for the common single-operator leaves: no call beyond this one.
    fast = fast_leaf(leaf, in_array, other)
    if fast is not None:
        return fast
    if on_num is never and on_const is never:

        def str_leaf(w: Any) -> bool:
            if type(w) is str:
                return on_str(w)
            if type(w) is list:
                return in_array(w)
            return other(w)

        return str_leaf
    if on_str is never and on_const is never:

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


def fast_leaf(leaf: Leaf, in_array: Predicate, other: Predicate) -> Predicate | None:
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
        limit = EXACT_INTS

        def number_leaf(w: Any) -> bool:
            t = type(w)
            if t is float or (t is int and -limit <= w <= limit):
                return w in nums
            if t is int:
                return num_key(w) in nums
            if t is list:
                return in_array(w)
            return other(w)

        return number_leaf
    if len(leaf.ranges) == 1:
        ((lo, hi),) = leaf.ranges
        limit = EXACT_INTS

        def range_leaf(w: Any) -> bool:
            t = type(w)
            if t is float:
                x: float = w
                return lo <= x <= hi
            if t is int:
                return lo <= w <= hi and (-limit <= w <= limit or is_comparable_int(w))
            if t is list:
                return in_array(w)
            return other(w)

        return range_leaf
    return None


def scalars(w: Any) -> Iterator[Any]:
    """The leaf values at a field: arrays are flattened, objects hold none."""
    if w is MISSING or isinstance(w, Mapping):
        return
    if isinstance(w, (list, tuple)):
        for item in w:
            yield from scalars(item)
    else:
        yield w


def compile_leaf_tri(leaf: Leaf) -> Tri:
    """Three-way test of the value at a field whose alternatives include ``exists: false``."""
    scalar = scalar_test(leaf)
    when_none = ABSENT if leaf.absent else NO

    def leaf_tri(w: Any) -> int:
        seen = False
        for v in scalars(w):
            if scalar(v):
                return VALUE
            seen = True
        return NO if seen else when_none

    return leaf_tri
