"""Numbers as event-ruler compares them: IEEE-754 doubles, and ints it cannot read
as a double compared as text.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final

from logway.functions.patterns.errors import PatternError
from logway.functions.patterns.json_text import LongFloat, show
from logway.functions.patterns.tree import NumKey, Predicate

DBL_MAX: Final = sys.float_info.max

EXACT_INTS: Final = 2**53  # every int of at most this magnitude is a comparable number


def finite(value: int | float, where: str, what: str) -> int | float:
    if isinstance(value, float) and not (-DBL_MAX <= value <= DBL_MAX):
        raise PatternError(f"{what} must be a finite number, not {value!r}", where)
    return value


def comparable(value: int | float, where: str) -> int | float:
    """Refuse numbers event-ruler cannot compare (see :func:`is_comparable_int`)."""
    if isinstance(value, LongFloat) or (isinstance(value, int) and not is_comparable_int(value)):
        raise PatternError(
            f"{show(value)} cannot be compared as a number: it has more digits than the "
            "shortest form of the nearest 64-bit float",
            where,
        )
    return value


def num_key(value: int | float) -> NumKey:
    """What an exact number is matched by: its value, or its digits if it is no number.

    An int event-ruler cannot compare as a double only matches the same int
    (event-ruler compares such numbers as text), never a float.
    """
    if isinstance(value, int) and not is_comparable_int(value):
        return ("digits", value)
    return value


def number_set(values: Iterable[NumKey]) -> Predicate:
    """Membership of an int or float in a set of :func:`num_key` keys."""
    keys = frozenset(num_key(v) if not isinstance(v, tuple) else v for v in values)
    limit = EXACT_INTS

    def contains(v: Any) -> bool:
        if type(v) is float or -limit <= v <= limit:
            return v in keys
        return num_key(v) in keys

    return contains


def is_comparable_int(value: int) -> bool:
    """Whether event-ruler treats an int as a number rather than as text.

    It compares numbers as doubles and accepts one only if the double's shortest
    decimal form is the number itself: 2**53 + 1 and 2**60 are not numbers to it
    (their doubles print as 9007199254740992 and 1.152921504606847E18), 10**20 is.
    """
    if -EXACT_INTS <= value <= EXACT_INTS:
        return True
    try:
        return Decimal(repr(float(value))) == value
    except OverflowError:
        return False


def closed_range(
    low: int | float, low_open: bool, high: int | float, high_open: bool
) -> tuple[float, float]:
    """The same range of doubles with both ends closed.

    Values and bounds are doubles (event-ruler compares numbers as doubles, and
    ints it does not take for numbers never match a range, see
    :func:`is_comparable_int`), so ``v > low`` is ``v >= nextafter(low, +inf)``.
    One-sided ranges end at the largest double, which also keeps infinities and
    NaN out.
    """
    lo, hi = float(low), float(high)
    if low_open:
        lo = math.nextafter(lo, math.inf)
    if high_open:
        hi = math.nextafter(hi, -math.inf)
    return lo, hi


def range_test(lo: float, hi: float) -> Predicate:
    """``lo <= v <= hi`` for an int or a float."""
    limit = EXACT_INTS

    def in_range(v: Any) -> bool:
        return lo <= v <= hi and (type(v) is float or -limit <= v <= limit or is_comparable_int(v))

    return in_range
