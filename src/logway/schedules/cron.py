"""EventBridge Scheduler's six-field cron expressions: parsing and calendar matching.

``cron(minutes hours day-of-month month day-of-week year)``, evaluated on wall-clock
time (this module knows nothing of time zones; ``expressions.py`` maps wall times to
instants). The fields, their ranges and their special characters:

=============  =========  =================  ==============================
field          values     names              special characters
=============  =========  =================  ==============================
minutes        0-59                          ``, - * /``
hours          0-23                          ``, - * /``
day-of-month   1-31                          ``, - * / ? L W``
month          1-12       JAN-DEC            ``, - * /``
day-of-week    1-7        SUN-SAT (1 = SUN)  ``, - * / ? L #``
year           1970-2199                     ``, - * /``
=============  =========  =================  ==============================

- ``a-b`` is a range (``a`` no later than ``b``); ``a/n`` and ``a-b/n`` and ``*/n`` take
  every n-th value from ``a`` (``0/15`` in minutes: 0, 15, 30, 45).
- Exactly one of day-of-month and day-of-week is ``?`` (no specific value): a schedule
  picks its days by one of them, never both.
- day-of-month ``L`` is the month's last day, ``LW`` its last weekday (Monday to Friday),
  ``nW`` the weekday nearest to day n within the same month (day 1 on a Saturday gives
  Monday the 3rd; the last day on a Sunday gives the Friday before); in a month without
  day n, ``nW`` matches nothing, as a plain ``n`` does.
- day-of-week ``L`` alone is the week's last day, Saturday (7); ``nL`` is the month's
  last day n (``5L``: the last Thursday); ``n#k`` is the k-th day n of the month
  (``3#2``: the second Tuesday), matching nothing in a month without a k-th one.
- ``L``, ``W`` and ``#`` stand alone in their field, never in a list or a range.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from logway.errors import InvalidArgumentError

MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
        start=1,
    )
}
DAY_NAMES = {
    name: number
    for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)
}
FIRST_YEAR, LAST_YEAR = 1970, 2199

_STEP = re.compile(r"^(?P<base>[^/]+)(?:/(?P<step>[^/]*))?$")


def aws_weekday(day: date) -> int:
    """The day of the week as cron numbers it: 1 = Sunday ... 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


@dataclass(frozen=True)
class DayOfMonth:
    """How day-of-month picks days: ``days`` (a set), or ``last`` (``L``), ``last_weekday``
    (``LW``) or ``nearest_weekday`` (``nW``, the n)."""

    days: frozenset[int] = frozenset()
    last: bool = False
    last_weekday: bool = False
    nearest_weekday: int = 0

    def matches(self, day: date) -> bool:
        length = calendar.monthrange(day.year, day.month)[1]
        if self.last:
            return day.day == length
        if self.last_weekday:
            last = date(day.year, day.month, length)
            return day.day == length - max(0, last.weekday() - 4)
        if self.nearest_weekday:
            return self.nearest_weekday <= length and day.day == _nearest_weekday(
                day.year, day.month, self.nearest_weekday, length
            )
        return day.day in self.days


def _nearest_weekday(year: int, month: int, n: int, length: int) -> int:
    """The Monday-to-Friday day of the month nearest to day ``n``, not leaving the month."""
    weekday = date(year, month, n).weekday()  # Monday = 0
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return n - 1 if n > 1 else n + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return n + 1 if n < length else n - 2
    return n


@dataclass(frozen=True)
class DayOfWeek:
    """How day-of-week picks days: ``days`` (cron numbers, 1 = Sunday), or ``last_of``
    (``nL``: the month's last such day) or ``nth`` (``n#k``: (n, k))."""

    days: frozenset[int] = frozenset()
    last_of: int = 0
    nth: tuple[int, int] = (0, 0)

    def matches(self, day: date) -> bool:
        weekday = aws_weekday(day)
        if self.last_of:
            length = calendar.monthrange(day.year, day.month)[1]
            return weekday == self.last_of and day.day + 7 > length
        if self.nth[0]:
            return weekday == self.nth[0] and (day.day - 1) // 7 + 1 == self.nth[1]
        return weekday in self.days


@dataclass(frozen=True)
class CronExpression:
    """A parsed cron expression: the wall-clock minutes of the days it picks."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: DayOfMonth | None  # None: "?"
    months: frozenset[int]
    day_of_week: DayOfWeek | None  # None: "?"
    years: tuple[int, ...]

    def matches_day(self, day: date) -> bool:
        """Whether the schedule runs on ``day`` (at its hours and minutes)."""
        if day.year not in self.years or day.month not in self.months:
            return False
        if self.day_of_month is not None:
            return self.day_of_month.matches(day)
        assert self.day_of_week is not None
        return self.day_of_week.matches(day)

    def days_from(self, first: date) -> Iterator[date]:
        """The days the schedule runs on, from ``first`` (included) on, in order."""
        for year in self.years:
            if year < first.year:
                continue
            for month in sorted(self.months):
                if (year, month) < (first.year, first.month):
                    continue
                start = first.day if (year, month) == (first.year, first.month) else 1
                for number in range(start, calendar.monthrange(year, month)[1] + 1):
                    day = date(year, month, number)
                    if self.matches_day(day):
                        yield day


def parse_cron(body: str, expression: str) -> CronExpression:
    """Parse the six fields inside ``cron(...)``; ``expression`` is quoted in errors."""
    fields = body.split()
    if len(fields) != 6:
        raise InvalidArgumentError(
            f"schedule expression {expression!r}: cron takes 6 fields (minutes hours "
            f"day-of-month month day-of-week year), got {len(fields)}"
        )
    minutes, hours, dom, month, dow, year = fields

    def where(field: str) -> str:
        return f"schedule expression {expression!r}: {field}"

    if (dom == "?") == (dow == "?"):
        raise InvalidArgumentError(
            f"{where('day-of-month')} {dom!r} and day-of-week {dow!r}: exactly one of the "
            "two must be '?', e.g. cron(0 12 * * ? *) or cron(0 12 ? * MON *)"
        )
    return CronExpression(
        minutes=tuple(sorted(_values(where("minutes"), minutes, 0, 59))),
        hours=tuple(sorted(_values(where("hours"), hours, 0, 23))),
        day_of_month=None if dom == "?" else _day_of_month(where("day-of-month"), dom),
        months=frozenset(_values(where("month"), month, 1, 12, MONTH_NAMES)),
        day_of_week=None if dow == "?" else _day_of_week(where("day-of-week"), dow),
        years=tuple(sorted(_values(where("year"), year, FIRST_YEAR, LAST_YEAR))),
    )


def _day_of_month(where: str, text: str) -> DayOfMonth:
    upper = text.upper()
    if upper == "L":
        return DayOfMonth(last=True)
    if upper == "LW":
        return DayOfMonth(last_weekday=True)
    if upper.endswith("W"):
        return DayOfMonth(nearest_weekday=_number(where, text, text[:-1], 1, 31))
    _alone(where, text, "LW")
    return DayOfMonth(days=frozenset(_values(where, text, 1, 31)))


def _day_of_week(where: str, text: str) -> DayOfWeek:
    upper = text.upper()
    if upper == "L":
        return DayOfWeek(days=frozenset({7}))
    if "#" in upper:
        day, _, nth = upper.partition("#")
        number = _number(where, text, day, 1, 7, DAY_NAMES)
        return DayOfWeek(nth=(number, _number(where, text, nth, 1, 5)))
    if upper.endswith("L"):
        return DayOfWeek(last_of=_number(where, text, text[:-1], 1, 7, DAY_NAMES))
    _alone(where, text, "L#")
    return DayOfWeek(days=frozenset(_values(where, text, 1, 7, DAY_NAMES)))


def _alone(where: str, text: str, specials: str) -> None:
    """Refuse a special character that is not the whole of its field."""
    for char in specials:
        if char in text.upper():
            raise InvalidArgumentError(
                f"{where} {text!r}: {char!r} cannot be combined with lists, ranges or "
                "steps; use it on its own (e.g. L, 15W, 5L, 3#2)"
            )


def _values(
    where: str, text: str, low: int, high: int, names: dict[str, int] | None = None
) -> set[int]:
    """The values a field of ``,``-separated items (``*``, ``a``, ``a-b``, with an
    optional ``/step``) selects between ``low`` and ``high``."""
    if "?" in text:
        raise InvalidArgumentError(
            f"{where} {text!r}: '?' is only allowed in day-of-month or day-of-week"
        )
    values: set[int] = set()
    for item in text.split(","):
        match = _STEP.match(item)
        if not match:
            raise InvalidArgumentError(f"{where} {text!r}: {item!r} is not a value or a range")
        base, step_text = match["base"], match["step"]
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first = _number(where, text, a, low, high, names)
            last = _number(where, text, b, low, high, names)
            if first > last:
                raise InvalidArgumentError(
                    f"{where} {text!r}: range {base!r} runs backwards; write the lower "
                    "value first (split a wrapping range into two, e.g. 22-23,0-2)"
                )
        else:
            first = _number(where, text, base, low, high, names)
            last = high if step_text is not None else first
        step = 1
        if step_text is not None:
            if not step_text.isdigit() or int(step_text) == 0:
                raise InvalidArgumentError(
                    f"{where} {text!r}: the step after '/' must be a positive whole number, "
                    f"got {step_text!r}"
                )
            step = int(step_text)
        values.update(range(first, last + 1, step))
    return values


def _number(
    where: str, text: str, token: str, low: int, high: int, names: dict[str, int] | None = None
) -> int:
    """One value of a field: digits, or a name (JAN, MON) where the field has names."""
    if names and token.upper() in names:
        return names[token.upper()]
    if not token.isascii() or not token.isdigit():
        allowed = f" or a name ({', '.join(names)})" if names else ""
        raise InvalidArgumentError(
            f"{where} {text!r}: {token!r} is not a number from {low} to {high}{allowed}"
        )
    value = int(token)
    if not low <= value <= high:
        raise InvalidArgumentError(
            f"{where} {text!r}: {value} is out of range; values go from {low} to {high}"
        )
    return value
