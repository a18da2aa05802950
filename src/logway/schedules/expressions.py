"""Schedule expressions as EventBridge Scheduler defines them, and when their ticks fall.

Three forms:

- ``rate(value unit)``: every ``value`` minutes, hours or days (``rate(5 minutes)``,
  ``rate(1 hour)``, ``rate(3 days)``); the unit is singular exactly when the value is 1.
  The ticks are ``anchor + k * interval``: the anchor is ``start`` when it is given (the
  first tick is at ``start``), otherwise the Unix epoch (1970-01-01T00:00:00Z), so every
  process computes the same ticks without sharing any state.
- ``cron(minutes hours day-of-month month day-of-week year)``: wall-clock times in the
  schedule's time zone (see ``cron.py`` for the fields); ticks fall at second 0.
- ``at(yyyy-mm-ddThh:mm:ss)``: one tick at that wall-clock time in the time zone.

Daylight saving time follows EventBridge Scheduler's user guide (schedule types,
"Daylight savings time") and AWS's knowledge-center note on adjusting schedules for
DST. A cron time is a wall-clock time: when the clocks jump forward, a cron time that
falls in the hour that never happens gets no tick that day (it is skipped, not moved);
when the clocks go back, a cron time that the day shows twice ticks once, at its first
occurrence (the daylight-time one), and the repeated hour brings no second tick. A
rate schedule ignores the clock altogether: it is a fixed interval of elapsed time, so
``rate(1 day)`` is always 24 hours, and its wall-clock time moves by an hour across a
DST change. An ``at`` time that does not exist in its zone is refused; one that occurs
twice means its first occurrence.

``flexible_window`` (minutes, as EventBridge Scheduler's ``MaximumWindowInMinutes``)
lets a tick be delivered up to that long after its time; ``Schedule.delay`` picks the
delay from a hash of the schedule id and the tick, so every process picks the same one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logway.errors import InvalidArgumentError
from logway.schedules.cron import CronExpression, parse_cron

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_FLEXIBLE_WINDOW = 1440  # minutes, EventBridge Scheduler's limit

_FORM = re.compile(r"^(?P<kind>rate|cron|at)\((?P<body>.*)\)$", re.DOTALL)
_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
# how far back, in wall-clock time, a later instant can read: more than any DST shift
_WALL_SLACK = timedelta(hours=3)

Kind = Literal["rate", "cron", "at"]


class Schedule:
    """A parsed schedule expression in a time zone, with its start, end and flexible
    window; answers when its ticks fall. Immutable; returned times are UTC."""

    def __init__(
        self,
        expression: str,
        *,
        timezone: str | ZoneInfo = "UTC",
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        flexible_window: int | str | None = None,
        id: str = "",
    ) -> None:
        if not isinstance(expression, str):
            raise InvalidArgumentError(
                f"a schedule expression is a string, got {type(expression).__name__}"
            )
        self.expression = expression.strip()
        self.id = id
        self.timezone = _zone(timezone)
        self.start = _instant("start", start)
        self.end = _instant("end", end)
        if self.start and self.end and self.end < self.start:
            raise InvalidArgumentError(
                f"schedule end {self.end.isoformat()} is before its start {self.start.isoformat()}"
            )
        self.flexible_window = _flexible_window(flexible_window)
        self.interval: timedelta | None = None
        self.cron: CronExpression | None = None
        self.at: datetime | None = None
        match = _FORM.match(self.expression)
        if not match:
            raise InvalidArgumentError(
                f"schedule expression {expression!r} is not one of rate(value unit), "
                "cron(minutes hours day-of-month month day-of-week year) or "
                "at(yyyy-mm-ddThh:mm:ss)"
            )
        self.kind: Kind = match["kind"]  # type: ignore[assignment]
        body = match["body"]
        if self.kind == "rate":
            self.interval = _parse_rate(body, self.expression)
        elif self.kind == "cron":
            self.cron = parse_cron(body, self.expression)
        else:
            self.at = _parse_at(body, self.expression, self.timezone)

    def __repr__(self) -> str:
        extras = "".join(
            f", {name}={value!r}"
            for name, value in (
                ("start", self.start and self.start.isoformat()),
                ("end", self.end and self.end.isoformat()),
                ("flexible_window", self.flexible_window),
                ("id", self.id),
            )
            if value
        )
        return f"Schedule({self.expression!r}, timezone={self.timezone.key!r}{extras})"

    def next_after(self, t: datetime) -> datetime | None:
        """The first tick strictly after ``t`` (an aware datetime), or None when there is
        none: after ``end``, past an ``at`` time, or past the last year a cron allows."""
        return next(self._ticks_after(_aware("t", t)), None)

    def ticks(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """The ticks strictly after ``after`` and no later than ``until``, in order."""
        until = _aware("until", until)
        for tick in self._ticks_after(_aware("after", after)):
            if tick > until:
                return
            yield tick

    def delay(self, tick: datetime) -> timedelta:
        """How long after ``tick`` to deliver it: zero without a flexible window, else a
        pseudo-random delay in ``[0, window)`` (whole milliseconds) that depends only on
        this schedule's ``id`` and the tick, so every process computes the same one."""
        if not self.flexible_window:
            return timedelta(0)
        instant = _aware("tick", tick).astimezone(UTC).isoformat()
        digest = hashlib.sha256(f"{self.id}\x00{instant}".encode()).digest()
        window_ms = self.flexible_window * 60_000
        return timedelta(milliseconds=int.from_bytes(digest[:8], "big") % window_ms)

    def _ticks_after(self, t: datetime) -> Iterator[datetime]:
        """Every tick after ``t`` and within start and end, in order."""
        if self.start is not None and t < self.start:
            t = self.start - timedelta(microseconds=1)  # so a tick at start counts
        if self.kind == "rate":
            ticks = self._rate_ticks(t)
        elif self.kind == "cron":
            ticks = self._cron_ticks(t)
        else:
            assert self.at is not None
            ticks = iter([self.at] if self.at > t else [])
        for tick in ticks:
            if self.end is not None and tick > self.end:
                return
            yield tick

    def _rate_ticks(self, t: datetime) -> Iterator[datetime]:
        assert self.interval is not None
        anchor = self.start or EPOCH
        k = (t - anchor) // self.interval + 1
        try:
            tick = anchor + max(k, 0) * self.interval
            while True:
                yield tick.astimezone(UTC)
                tick += self.interval
        except OverflowError:  # past year 9999: no more ticks
            return

    def _cron_ticks(self, t: datetime) -> Iterator[datetime]:
        """Walk the cron's wall-clock times from a little before ``t`` (a later instant
        can show an earlier wall time after clocks go back) and keep those after ``t``."""
        assert self.cron is not None
        earliest = t.astimezone(self.timezone).replace(tzinfo=None) - _WALL_SLACK
        if earliest.year > self.cron.years[-1]:
            return
        for day in self.cron.days_from(earliest.date()):
            for hour in self.cron.hours:
                for minute in self.cron.minutes:
                    wall = datetime(day.year, day.month, day.day, hour, minute)
                    if wall < earliest:
                        continue
                    instant = wall_to_instant(wall, self.timezone)
                    if instant is not None and instant > t:
                        yield instant


def parse_schedule(
    expression: str,
    *,
    timezone: str | ZoneInfo = "UTC",
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    flexible_window: int | str | None = None,
    id: str = "",
) -> Schedule:
    """Parse an EventBridge Scheduler expression (``rate(...)``, ``cron(...)``,
    ``at(...)``); a bad one raises ``InvalidArgumentError`` naming what is wrong."""
    return Schedule(
        expression,
        timezone=timezone,
        start=start,
        end=end,
        flexible_window=flexible_window,
        id=id,
    )


def wall_to_instant(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant a naive wall-clock time names in ``zone``: None when the clocks
    skip it (spring forward), the first of the two when it occurs twice (fall back)."""
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


def _parse_rate(body: str, expression: str) -> timedelta:
    parts = body.split()
    if len(parts) != 2:
        raise InvalidArgumentError(
            f"schedule expression {expression!r}: rate takes a value and a unit, "
            "e.g. rate(5 minutes) or rate(1 hour)"
        )
    value_text, unit = parts
    if not value_text.isascii() or not value_text.isdigit() or int(value_text) == 0:
        raise InvalidArgumentError(
            f"schedule expression {expression!r}: the rate value must be a positive whole "
            f"number, got {value_text!r}"
        )
    value = int(value_text)
    singular = unit[:-1] if unit.endswith("s") else unit
    if singular not in _UNITS:
        raise InvalidArgumentError(
            f"schedule expression {expression!r}: unknown rate unit {unit!r}; use minute(s), "
            "hour(s) or day(s)"
        )
    expected = singular if value == 1 else singular + "s"
    if unit != expected:
        raise InvalidArgumentError(
            f"schedule expression {expression!r}: with the value {value} the unit is "
            f"{expected!r}, not {unit!r}"
        )
    try:
        return timedelta(seconds=value * _UNITS[singular])
    except OverflowError:
        raise InvalidArgumentError(
            f"schedule expression {expression!r}: the rate value {value} is too large"
        ) from None


def _parse_at(body: str, expression: str, zone: ZoneInfo) -> datetime:
    if not _AT.match(body):
        raise InvalidArgumentError(
            f"schedule expression {expression!r}: at takes a time as yyyy-mm-ddThh:mm:ss "
            "(with seconds, no offset: the schedule's time zone applies), e.g. "
            "at(2030-01-31T09:30:00)"
        )
    try:
        wall = datetime.fromisoformat(body)
    except ValueError as exc:
        raise InvalidArgumentError(
            f"schedule expression {expression!r}: {body!r} is not a real date and time ({exc})"
        ) from None
    instant = wall_to_instant(wall, zone)
    if instant is None:
        raise InvalidArgumentError(
            f"schedule expression {expression!r}: {body} does not exist in {zone.key} "
            "(the clocks skip it for daylight saving time); pick a time outside the gap"
        )
    return instant


def _zone(timezone: str | ZoneInfo) -> ZoneInfo:
    if isinstance(timezone, ZoneInfo):
        return timezone
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidArgumentError(
            f"unknown time zone {timezone!r}: use an IANA name such as 'UTC', "
            "'Europe/London' or 'Asia/Tokyo'"
        ) from None


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise InvalidArgumentError(
            f"{name} must be a datetime with a time zone (e.g. datetime.now(UTC)), got {value!r}"
        )
    return value


def _instant(name: str, value: datetime | str | None) -> datetime | None:
    """A start or end: an aware datetime or an ISO 8601 string with an offset."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidArgumentError(
                f"schedule {name} {value!r} is not an ISO 8601 time, e.g. 2030-01-01T00:00:00Z"
            ) from None
        if parsed.utcoffset() is None:
            raise InvalidArgumentError(
                f"schedule {name} {value!r} has no UTC offset; add one, e.g. "
                "2030-01-01T00:00:00Z or 2030-01-01T09:00:00+09:00"
            )
        value = parsed
    return _aware(f"schedule {name}", value).astimezone(UTC)


def _flexible_window(value: int | str | None) -> int | None:
    if value is None or (isinstance(value, str) and value.upper() == "OFF"):
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(
            f"flexible_window is a number of minutes from 1 to {MAX_FLEXIBLE_WINDOW}, or "
            f"None or 'OFF' for none; got {value!r}"
        )
    if not 1 <= value <= MAX_FLEXIBLE_WINDOW:
        raise InvalidArgumentError(
            f"flexible_window {value} is out of range: from 1 to {MAX_FLEXIBLE_WINDOW} "
            "minutes, or None or 'OFF' for none"
        )
    return value
