"""Schedule expressions (rate, cron, at) against real calendars: expectations come from
``calendar``/``datetime`` or from dates checked by hand, never from the code under test."""

from __future__ import annotations

import calendar
import itertools
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from logway.cli.main import main as cli
from logway.errors import InvalidArgumentError
from logway.schedules import Schedule, parse_schedule

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def ticks(expression: str, after: datetime, until: datetime, **kwargs: object) -> list[datetime]:
    return list(parse_schedule(expression, **kwargs).ticks(after, until))  # type: ignore[arg-type]


def days(expression: str, year: int) -> list[date]:
    """The UTC dates a once-a-day cron ticks on in ``year``."""
    just_before = utc(year, 1, 1) - timedelta(microseconds=1)
    last = utc(year + 1, 1, 1) - timedelta(microseconds=1)
    return [t.date() for t in ticks(expression, just_before, last)]


# -- rate --------------------------------------------------------------------------------

# 2024-01-01T00:00:00Z is Unix time 1_704_067_200, day 19_723 since the epoch
NEW_YEAR_2024 = utc(2024, 1, 1)


def test_new_year_2024_is_the_day_the_rate_tests_assume() -> None:
    assert NEW_YEAR_2024.timestamp() == 1_704_067_200 == 19_723 * 86_400


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("rate(1 minute)", utc(2024, 1, 1, 0, 0, 30), utc(2024, 1, 1, 0, 1)),
        ("rate(5 minutes)", utc(2024, 1, 1, 0, 2, 30), utc(2024, 1, 1, 0, 5)),
        ("rate(5 minutes)", utc(2024, 1, 1, 0, 5), utc(2024, 1, 1, 0, 10)),  # strictly after
        ("rate(1 hour)", utc(2024, 1, 1, 7, 59, 59), utc(2024, 1, 1, 8)),
        ("rate(2 hours)", utc(2024, 1, 1, 1), utc(2024, 1, 1, 2)),
        ("rate(1 day)", utc(2024, 2, 28, 12), utc(2024, 2, 29)),
        # day 19_723 is 1 mod 3: the next multiple of 3 days is day 19_725
        ("rate(3 days)", NEW_YEAR_2024, utc(2024, 1, 3)),
    ],
)
def test_rate_counts_from_the_epoch_without_a_start(
    expression: str, after: datetime, expected: datetime
) -> None:
    assert parse_schedule(expression).next_after(after) == expected


def test_rate_ticks_are_evenly_spaced_multiples_of_the_interval_from_the_epoch() -> None:
    found = ticks("rate(7 minutes)", NEW_YEAR_2024, NEW_YEAR_2024 + timedelta(hours=5))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert all((t - epoch) % timedelta(minutes=7) == timedelta(0) for t in found)
    assert [b - a for a, b in itertools.pairwise(found)] == [timedelta(minutes=7)] * (
        len(found) - 1
    )
    assert timedelta(0) < found[0] - NEW_YEAR_2024 <= timedelta(minutes=7)
    first_minute = 1_704_067_200 // 60  # minutes since the epoch
    assert len(found) == (first_minute + 300) // 7 - first_minute // 7


def test_rate_counts_from_start_and_the_first_tick_is_start() -> None:
    start = utc(2024, 5, 1, 10, 17, 3)
    schedule = parse_schedule("rate(2 hours)", start=start)
    assert schedule.next_after(utc(2024, 1, 1)) == start
    assert schedule.next_after(start) == utc(2024, 5, 1, 12, 17, 3)
    assert schedule.next_after(utc(2024, 5, 2, 0, 17, 3)) == utc(2024, 5, 2, 2, 17, 3)


def test_rate_is_elapsed_time_and_ignores_daylight_saving() -> None:
    # 09:00 New York on the Saturday before the clocks spring forward (Sunday 2024-03-10)
    start = datetime(2024, 3, 9, 9, tzinfo=NEW_YORK)
    schedule = parse_schedule("rate(1 day)", timezone="America/New_York", start=start)
    start_utc = start.astimezone(UTC)  # aware arithmetic on a zone is wall-clock arithmetic
    found = list(schedule.ticks(start_utc - timedelta(1), start_utc + timedelta(hours=48)))
    assert [b - a for a, b in itertools.pairwise(found)] == [timedelta(hours=24)] * 2
    # 24 hours after 09:00 EST is 10:00 EDT: the wall clock moves, the interval does not
    assert [t.astimezone(NEW_YORK).hour for t in found] == [9, 10, 10]


def test_rate_hourly_on_the_23_hour_day() -> None:
    local_day = datetime(2024, 3, 10, tzinfo=NEW_YORK).astimezone(UTC)
    next_day = datetime(2024, 3, 11, tzinfo=NEW_YORK).astimezone(UTC)
    assert next_day - local_day == timedelta(hours=23)  # the short day, per zoneinfo
    found = ticks(
        "rate(1 hour)", local_day - timedelta(microseconds=1), next_day, timezone="America/New_York"
    )
    assert len(found) == 24  # both local midnights and the 22 elapsed hours between
    assert found[0] == local_day and found[-1] == next_day


# -- cron: the fields and special characters -----------------------------------------------


def test_cron_daily_at_noon_utc() -> None:
    assert ticks("cron(0 12 * * ? *)", utc(2024, 1, 1), utc(2024, 1, 3, 23)) == [
        utc(2024, 1, 1, 12),
        utc(2024, 1, 2, 12),
        utc(2024, 1, 3, 12),
    ]


def test_cron_lists_and_steps() -> None:
    day = utc(2024, 1, 1)
    assert ticks("cron(0,30 9,17 * * ? *)", day, day + timedelta(1)) == [
        day.replace(hour=9),
        day.replace(hour=9, minute=30),
        day.replace(hour=17),
        day.replace(hour=17, minute=30),
    ]
    hour = ticks("cron(0/15 3 * * ? *)", day, day + timedelta(1))
    assert [t.minute for t in hour] == [0, 15, 30, 45]
    hour = ticks("cron(5/20 3 * * ? *)", day, day + timedelta(1))
    assert [t.minute for t in hour] == [5, 25, 45]
    hour = ticks("cron(*/10 3 * * ? *)", day, day + timedelta(1))
    assert [t.minute for t in hour] == [0, 10, 20, 30, 40, 50]
    hour = ticks("cron(10-40/10 3 * * ? *)", day, day + timedelta(1))
    assert [t.minute for t in hour] == [10, 20, 30, 40]
    just_before = day - timedelta(microseconds=1)
    six_hourly = ticks("cron(0 */6 * * ? *)", just_before, day + timedelta(hours=23))
    assert [t.hour for t in six_hourly] == [
        0,
        6,
        12,
        18,
    ]


def test_cron_every_minute_for_a_day() -> None:
    found = ticks("cron(* * * * ? *)", utc(2024, 1, 1), utc(2024, 1, 2))
    assert len(found) == 24 * 60
    assert found[0] == utc(2024, 1, 1, 0, 1) and found[-1] == utc(2024, 1, 2)


def test_cron_weekday_range_by_name_skips_the_weekend() -> None:
    # 2024-06-01 was a Saturday
    assert date(2024, 6, 1).weekday() == calendar.SATURDAY
    schedule = parse_schedule("cron(0 9 ? * MON-FRI *)")
    assert schedule.next_after(utc(2024, 6, 1)) == utc(2024, 6, 3, 9)
    weekdays = {d.weekday() for d in days("cron(0 9 ? * MON-FRI *)", 2024)}
    assert weekdays == {0, 1, 2, 3, 4}
    assert len(days("cron(0 9 ? * MON-FRI *)", 2024)) == sum(
        1 for d in _all_days(2024) if d.weekday() < 5
    )


def test_day_of_week_numbers_start_at_sunday_and_names_ignore_case() -> None:
    sundays = [d for d in _all_days(2024) if d.weekday() == calendar.SUNDAY]
    assert days("cron(0 0 ? * 1 *)", 2024) == sundays
    assert days("cron(0 0 ? * SUN *)", 2024) == sundays
    assert days("cron(0 0 ? * sun *)", 2024) == sundays
    saturdays = [d for d in _all_days(2024) if d.weekday() == calendar.SATURDAY]
    assert days("cron(0 0 ? * 7 *)", 2024) == saturdays
    assert days("cron(0 0 ? * L *)", 2024) == saturdays  # L alone: the week's last day


def test_month_names() -> None:
    assert days("cron(0 0 1 JAN,JUL ? *)", 2024) == [date(2024, 1, 1), date(2024, 7, 1)]
    assert days("cron(0 0 1 oct-dec ? *)", 2024) == [date(2024, m, 1) for m in (10, 11, 12)]
    assert days("cron(0 0 1 1/4 ? *)", 2024) == [date(2024, m, 1) for m in (1, 5, 9)]


def test_last_day_of_every_month() -> None:
    expected = [date(2024, m, calendar.monthrange(2024, m)[1]) for m in range(1, 13)]
    assert days("cron(0 0 L * ? *)", 2024) == expected


def test_last_day_of_february_follows_leap_years() -> None:
    found = ticks("cron(0 0 L 2 ? *)", utc(2023, 1, 1), utc(2033, 1, 1))
    expected = [utc(year, 2, 29 if calendar.isleap(year) else 28) for year in range(2023, 2033)]
    assert found == expected
    assert utc(2024, 2, 29) in found and utc(2028, 2, 29) in found  # checked by hand
    # century rules: 2000 was a leap year, 2100 will not be
    assert parse_schedule("cron(0 0 L 2 ? 2000)").next_after(utc(1999, 1, 1)) == utc(2000, 2, 29)
    assert parse_schedule("cron(0 0 L 2 ? 2100)").next_after(utc(2099, 1, 1)) == utc(2100, 2, 28)
    # February 29 itself only in leap years
    assert [t.year for t in ticks("cron(0 0 29 2 ? *)", utc(2023, 1, 1), utc(2033, 1, 1))] == [
        2024,
        2028,
        2032,
    ]


def _nearest_weekday(year: int, month: int, n: int) -> date | None:
    """By brute force: the Monday-Friday day of the month closest to day n."""
    length = calendar.monthrange(year, month)[1]
    if n > length:
        return None
    candidates = [date(year, month, d) for d in range(1, length + 1)]
    weekdays = [d for d in candidates if d.weekday() < 5]
    return min(weekdays, key=lambda d: abs(d.day - n))


def test_nearest_weekday_hand_checked() -> None:
    schedule = parse_schedule("cron(0 9 15W * ? *)")
    # 2024-06-15 is a Saturday: the Friday before
    assert schedule.next_after(utc(2024, 6, 1)) == utc(2024, 6, 14, 9)
    # 2024-09-15 is a Sunday: the Monday after
    assert schedule.next_after(utc(2024, 9, 1)) == utc(2024, 9, 16, 9)
    # 2024-06-01 is a Saturday: 1W does not go back into May, it is Monday the 3rd
    assert parse_schedule("cron(0 9 1W * ? *)").next_after(utc(2024, 6, 1)) == utc(2024, 6, 3, 9)
    # 2024-03-31 is a Sunday: 31W does not go into April, it is Friday the 29th
    assert parse_schedule("cron(0 9 31W * ? *)").next_after(utc(2024, 3, 20)) == utc(2024, 3, 29, 9)


@pytest.mark.parametrize("n", [1, 2, 15, 28, 30, 31])
def test_nearest_weekday_every_month_of_two_years(n: int) -> None:
    for year in (2024, 2025):
        expected = [d for m in range(1, 13) if (d := _nearest_weekday(year, m, n)) is not None]
        assert days(f"cron(0 0 {n}W * ? *)", year) == expected


def test_last_weekday_of_the_month() -> None:
    expected = []
    for month in range(1, 13):
        last = date(2024, month, calendar.monthrange(2024, month)[1])
        while last.weekday() >= 5:
            last -= timedelta(1)
        expected.append(last)
    assert days("cron(0 0 LW * ? *)", 2024) == expected
    # by hand: 2024-08-31 is a Saturday, 2024-03-31 a Sunday, 2024-01-31 a Wednesday
    assert {date(2024, 8, 30), date(2024, 3, 29), date(2024, 1, 31)} <= set(expected)


def test_nth_weekday_of_the_month() -> None:
    expected = []
    for month in range(1, 13):
        tuesdays = [
            d for d in _all_days(2024) if d.month == month and d.weekday() == calendar.TUESDAY
        ]
        expected.append(tuesdays[1])
    assert days("cron(0 0 ? * 3#2 *)", 2024) == expected
    assert date(2024, 1, 9) in expected  # 2024-01-01 was a Monday
    assert days("cron(0 0 ? * TUE#2 *)", 2024) == expected


def test_fifth_friday_only_in_months_that_have_one() -> None:
    expected = []
    for month in range(1, 13):
        fridays = [d for d in _all_days(2024) if d.month == month and d.weekday() == 4]
        if len(fridays) == 5:
            expected.append(fridays[4])
    assert 0 < len(expected) < 12
    assert days("cron(0 0 ? * 6#5 *)", 2024) == expected


def test_last_given_weekday_of_the_month() -> None:
    expected = []
    for month in range(1, 13):
        thursdays = [d for d in _all_days(2024) if d.month == month and d.weekday() == 3]
        expected.append(thursdays[-1])
    assert days("cron(0 0 ? * 5L *)", 2024) == expected
    assert date(2024, 11, 28) in expected  # checked by hand


def test_years_bound_the_schedule() -> None:
    assert ticks("cron(0 0 1 1 ? 2030-2032)", utc(2000, 1, 1), utc(2100, 1, 1)) == [
        utc(2030, 1, 1),
        utc(2031, 1, 1),
        utc(2032, 1, 1),
    ]
    last = parse_schedule("cron(0 0 1 1 ? 2199)")
    assert last.next_after(utc(2198, 6, 1)) == utc(2199, 1, 1)
    assert last.next_after(utc(2199, 1, 1)) is None
    assert parse_schedule("cron(0 0 1 1 ? *)").next_after(utc(2199, 6, 1)) is None


def test_a_day_that_never_comes_gives_no_tick() -> None:
    assert parse_schedule("cron(0 0 30 2 ? *)").next_after(utc(2024, 1, 1)) is None
    assert days("cron(0 0 31 * ? *)", 2024) == [
        date(2024, m, 31) for m in range(1, 13) if calendar.monthrange(2024, m)[1] == 31
    ]


# -- at ------------------------------------------------------------------------------------


def test_at_is_one_time_in_the_schedule_time_zone() -> None:
    schedule = parse_schedule("at(2030-01-31T09:30:00)", timezone="Asia/Tokyo")
    assert schedule.next_after(utc(2024, 1, 1)) == utc(2030, 1, 31, 0, 30)  # Tokyo is UTC+9
    assert schedule.next_after(utc(2030, 1, 31, 0, 30)) is None
    assert list(schedule.ticks(utc(2024, 1, 1), utc(2040, 1, 1))) == [utc(2030, 1, 31, 0, 30)]
    assert parse_schedule("at(2030-01-31T09:30:15)").next_after(utc(2030, 1, 1)) == utc(
        2030, 1, 31, 9, 30, 15
    )


def test_at_a_twice_occurring_time_is_its_first_occurrence() -> None:
    schedule = parse_schedule("at(2024-11-03T01:30:00)", timezone="America/New_York")
    assert schedule.next_after(utc(2024, 1, 1)) == utc(2024, 11, 3, 5, 30)  # 01:30 EDT


# -- daylight saving time -------------------------------------------------------------------


def _offset_changes(zone: ZoneInfo, day: date) -> bool:
    before = datetime(day.year, day.month, day.day, tzinfo=zone).utcoffset()
    after = (datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(1)).utcoffset()
    return before != after


def test_the_transition_days_the_dst_tests_assume() -> None:
    # US: second Sunday of March, first Sunday of November; EU: last Sundays of March, October
    assert _offset_changes(NEW_YORK, date(2024, 3, 10)) and _offset_changes(
        NEW_YORK, date(2024, 11, 3)
    )
    assert _offset_changes(LONDON, date(2024, 3, 31)) and _offset_changes(
        LONDON, date(2024, 10, 27)
    )
    assert all(d.weekday() == calendar.SUNDAY for d in _transition_days())


def _transition_days() -> list[date]:
    return [date(2024, 3, 10), date(2024, 11, 3), date(2024, 3, 31), date(2024, 10, 27)]


def test_new_york_spring_forward_skips_a_time_in_the_missing_hour() -> None:
    # 2024-03-10: 02:00 EST becomes 03:00 EDT; 02:30 does not happen that day
    found = ticks(
        "cron(30 2 * * ? *)", utc(2024, 3, 8), utc(2024, 3, 12), timezone="America/New_York"
    )
    assert found == [
        utc(2024, 3, 8, 7, 30),  # 02:30 EST = 07:30 UTC
        utc(2024, 3, 9, 7, 30),
        utc(2024, 3, 11, 6, 30),  # 02:30 EDT = 06:30 UTC
    ]


def test_new_york_spring_forward_every_half_hour() -> None:
    found = ticks(
        "cron(0/30 * * * ? *)",
        utc(2024, 3, 10, 6),
        utc(2024, 3, 10, 8),
        timezone="America/New_York",
    )
    local = [t.astimezone(NEW_YORK).strftime("%H:%M") for t in found]
    assert local == ["01:30", "03:00", "03:30", "04:00"]
    hours = [(6, 30), (7, 0), (7, 30), (8, 0)]  # 01:30 EST is 06:30 UTC, 03:00 EDT 07:00
    assert found == [utc(2024, 3, 10, h, m) for h, m in hours]


def test_new_york_fall_back_runs_a_twice_occurring_time_once() -> None:
    # 2024-11-03: 02:00 EDT becomes 01:00 EST; 01:30 happens twice, the tick once
    found = ticks(
        "cron(30 1 * * ? *)", utc(2024, 11, 2), utc(2024, 11, 5), timezone="America/New_York"
    )
    assert found == [
        utc(2024, 11, 2, 5, 30),  # 01:30 EDT
        utc(2024, 11, 3, 5, 30),  # 01:30 EDT, the first of the two
        utc(2024, 11, 4, 6, 30),  # 01:30 EST
    ]


def test_new_york_fall_back_does_not_repeat_the_hour() -> None:
    found = ticks(
        "cron(0/30 * * * ? *)",
        utc(2024, 11, 3, 4),
        utc(2024, 11, 3, 8),
        timezone="America/New_York",
    )
    # 00:30 and 01:00, 01:30 EDT, then the repeated 01:00-01:59 EST brings nothing
    assert found == [
        utc(2024, 11, 3, 4, 30),
        utc(2024, 11, 3, 5),
        utc(2024, 11, 3, 5, 30),
        utc(2024, 11, 3, 7),  # 02:00 EST
        utc(2024, 11, 3, 7, 30),
        utc(2024, 11, 3, 8),
    ]


def test_next_after_from_inside_the_repeated_hour() -> None:
    schedule = parse_schedule("cron(45 1,2 * * ? *)", timezone="America/New_York")
    # 01:15 EST (the second 01:15): 01:45 EDT is past, the next is 02:45 EST
    assert schedule.next_after(utc(2024, 11, 3, 6, 15)) == utc(2024, 11, 3, 7, 45)


def test_london_spring_forward_and_fall_back() -> None:
    # 2024-03-31: 01:00 GMT becomes 02:00 BST; 2024-10-27: 02:00 BST becomes 01:00 GMT
    spring = ticks(
        "cron(30 1 * * ? *)", utc(2024, 3, 30), utc(2024, 4, 2), timezone="Europe/London"
    )
    assert spring == [utc(2024, 3, 30, 1, 30), utc(2024, 4, 1, 0, 30)]
    fall = ticks(
        "cron(30 1 * * ? *)", utc(2024, 10, 26), utc(2024, 10, 29), timezone="Europe/London"
    )
    assert fall == [
        utc(2024, 10, 26, 0, 30),  # 01:30 BST
        utc(2024, 10, 27, 0, 30),  # 01:30 BST, the first of the two
        utc(2024, 10, 28, 1, 30),  # 01:30 GMT
    ]
    # a time outside the changes keeps its wall-clock time
    nine = ticks("cron(0 9 * * ? *)", utc(2024, 3, 30), utc(2024, 4, 2), timezone="Europe/London")
    assert [t.astimezone(LONDON).hour for t in nine] == [9, 9, 9]
    assert [t.hour for t in nine] == [9, 8, 8]


def test_tokyo_has_no_dst_the_same_utc_time_all_year() -> None:
    found = ticks("cron(0 9 * * ? *)", utc(2023, 12, 31), utc(2024, 12, 31, 12), timezone=TOKYO)
    assert len(found) == 366  # 2024 is a leap year
    assert {(t.hour, t.minute) for t in found} == {(0, 0)}  # 09:00 JST is 00:00 UTC
    # the days New York and London change their clocks are ordinary days in Tokyo
    assert {utc(d.year, d.month, d.day) for d in _transition_days()} <= set(found)


# -- start and end --------------------------------------------------------------------------


def test_start_and_end_bound_the_ticks_inclusive() -> None:
    schedule = parse_schedule(
        "cron(0 * * * ? *)", start="2024-01-01T10:00:00Z", end=utc(2024, 1, 1, 13)
    )
    assert schedule.next_after(utc(2023, 1, 1)) == utc(2024, 1, 1, 10)
    assert list(schedule.ticks(utc(2023, 1, 1), utc(2025, 1, 1))) == [
        utc(2024, 1, 1, h) for h in (10, 11, 12, 13)
    ]
    assert schedule.next_after(utc(2024, 1, 1, 13)) is None


def test_start_with_an_offset_string_and_an_end_on_rate_and_at() -> None:
    rate = parse_schedule(
        "rate(1 hour)", start="2024-01-01T09:30:00+09:00", end="2024-01-01T03:00:00Z"
    )
    assert list(rate.ticks(utc(2023, 1, 1), utc(2025, 1, 1))) == [
        utc(2024, 1, 1, 0, 30),
        utc(2024, 1, 1, 1, 30),
        utc(2024, 1, 1, 2, 30),
    ]
    late = parse_schedule("at(2030-01-01T00:00:00)", end=utc(2029, 1, 1))
    assert late.next_after(utc(2024, 1, 1)) is None
    early = parse_schedule("at(2030-01-01T00:00:00)", start=utc(2031, 1, 1))
    assert early.next_after(utc(2024, 1, 1)) is None


# -- flexible window ------------------------------------------------------------------------


def test_delay_is_within_the_window_and_the_same_for_the_same_schedule_and_tick() -> None:
    one = Schedule("rate(1 minute)", flexible_window=15, id="billing")
    two = parse_schedule("rate(1 minute)", flexible_window=15, id="billing")
    found = list(one.ticks(NEW_YEAR_2024, NEW_YEAR_2024 + timedelta(hours=2)))
    delays = [one.delay(t) for t in found]
    assert delays == [two.delay(t) for t in found]
    assert all(timedelta(0) <= d < timedelta(minutes=15) for d in delays)
    assert len(set(delays)) > len(delays) // 2  # spread out, not one value
    other = Schedule("rate(1 minute)", flexible_window=15, id="reports")
    assert [other.delay(t) for t in found] != delays
    # the same instant in another zone is the same tick
    assert one.delay(found[0].astimezone(TOKYO)) == delays[0]


def test_no_window_means_no_delay() -> None:
    for window in (None, "OFF", "off"):
        schedule = parse_schedule("rate(5 minutes)", flexible_window=window, id="x")
        assert schedule.delay(NEW_YEAR_2024) == timedelta(0)


def test_delay_is_the_same_in_another_process() -> None:
    schedule = parse_schedule("cron(0 9 * * ? *)", flexible_window=60, id="daily")
    tick = utc(2024, 6, 1, 9)
    code = (
        "from datetime import datetime, UTC\n"
        "from logway.schedules import parse_schedule\n"
        "s = parse_schedule('cron(0 9 * * ? *)', flexible_window=60, id='daily')\n"
        "print(s.delay(datetime(2024, 6, 1, 9, tzinfo=UTC)).total_seconds())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        timeout=60,
        check=True,
    )
    assert float(result.stdout) == schedule.delay(tick).total_seconds()


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 0 1 * MON *)", "exactly one of the two must be '\\?'"),
        ("cron(0 0 * * * *)", "exactly one of the two must be '\\?'"),
        ("cron(0 0 ? * ? *)", "exactly one of the two must be '\\?'"),
        ("cron(0 0 * * ?)", "cron takes 6 fields.*got 5"),
        ("cron(0 0 * * ? * *)", "cron takes 6 fields.*got 7"),
        ("cron(0 0 1 13 ? *)", "month '13': 13 is out of range; values go from 1 to 12"),
        ("cron(60 0 * * ? *)", "minutes '60': 60 is out of range"),
        ("cron(0 24 * * ? *)", "hours '24': 24 is out of range"),
        ("cron(0 0 0 * ? *)", "day-of-month '0': 0 is out of range"),
        ("cron(0 0 32 * ? *)", "day-of-month '32': 32 is out of range"),
        ("cron(0 0 ? * 8 *)", "day-of-week '8': 8 is out of range; values go from 1 to 7"),
        ("cron(0 0 * * ? 1969)", "year '1969': 1969 is out of range"),
        ("cron(0 0 * * ? 2200)", "year '2200': 2200 is out of range"),
        ("cron(0 0 1 JANUARY ? *)", "month 'JANUARY': 'JANUARY' is not a number"),
        ("cron(0 0 ? * MONDAY *)", "day-of-week 'MONDAY'"),
        ("cron(0 0 1 * ? MON)", "year 'MON': 'MON' is not a number"),
        ("cron(L 0 * * ? *)", "minutes 'L'"),
        ("cron(? 0 * * ? *)", "minutes '\\?': '\\?' is only allowed in day-of-month"),
        ("cron(0/0 0 * * ? *)", "step after '/' must be a positive whole number"),
        ("cron(0/x 0 * * ? *)", "step after '/'"),
        ("cron(0 22-2 * * ? *)", "hours '22-2': range '22-2' runs backwards"),
        ("cron(0 0 ? * FRI-MON *)", "runs backwards"),
        ("cron(0 0 1,L * ? *)", "'L' cannot be combined"),
        ("cron(0 0 ? * 2,5L *)", "day-of-week"),
        ("cron(0 0 ? * 1#2,3 *)", "day-of-week"),
        ("cron(0 0 ? * 3#6 *)", "day-of-week '3#6': 6 is out of range; values go from 1 to 5"),
        ("cron(0 0 ? * 8#1 *)", "day-of-week '8#1': 8 is out of range"),
        ("cron(0 0 32W * ? *)", "day-of-month '32W': 32 is out of range"),
        ("cron(0 0 W * ? *)", "day-of-month 'W'"),
        ("cron(0 0 ? * 9L *)", "day-of-week '9L': 9 is out of range"),
        ("cron(0 0 1,,2 * ? *)", "'' is not a value"),
        ("rate(1 minutes)", "with the value 1 the unit is 'minute', not 'minutes'"),
        ("rate(5 minute)", "with the value 5 the unit is 'minutes', not 'minute'"),
        ("rate(2 day)", "the unit is 'days'"),
        ("rate(0 hours)", "rate value must be a positive whole number, got '0'"),
        ("rate(-1 hours)", "positive whole number, got '-1'"),
        ("rate(1.5 hours)", "positive whole number, got '1.5'"),
        ("rate(2 weeks)", "unknown rate unit 'weeks'"),
        ("rate(5 seconds)", "unknown rate unit 'seconds'"),
        ("rate(5)", "rate takes a value and a unit"),
        ("rate(5 minutes please)", "rate takes a value and a unit"),
        ("at(2030-01-31T09:30)", "at takes a time as yyyy-mm-ddThh:mm:ss"),
        ("at(2030-01-31)", "yyyy-mm-ddThh:mm:ss"),
        ("at(2030-01-31T09:30:00Z)", "yyyy-mm-ddThh:mm:ss"),
        ("at(2030-01-31 09:30:00)", "yyyy-mm-ddThh:mm:ss"),
        ("at(2023-02-29T00:00:00)", "'2023-02-29T00:00:00' is not a real date and time"),
        ("every(5 minutes)", "is not one of rate"),
        ("Cron(0 0 * * ? *)", "is not one of rate"),
        ("cron 0 0 * * ? *", "is not one of rate"),
        ("", "is not one of rate"),
    ],
)
def test_bad_expressions_are_refused_naming_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        parse_schedule(expression)


def test_an_at_time_in_the_skipped_hour_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="does not exist in America/New_York"):
        parse_schedule("at(2024-03-10T02:30:00)", timezone="America/New_York")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"timezone": "EST+5"}, "unknown time zone"),
        ({"flexible_window": 0}, "flexible_window 0 is out of range: from 1 to 1440"),
        ({"flexible_window": 1441}, "flexible_window 1441 is out of range"),
        ({"flexible_window": "15"}, "flexible_window is a number of minutes"),
        ({"flexible_window": True}, "flexible_window is a number of minutes"),
        ({"start": "2024-01-01T00:00:00"}, "start '2024-01-01T00:00:00' has no UTC offset"),
        ({"end": datetime(2024, 1, 1)}, "end must be a datetime with a time zone"),
        ({"start": "next tuesday"}, "start 'next tuesday' is not an ISO 8601 time"),
        ({"start": utc(2024, 2, 1), "end": utc(2024, 1, 1)}, "end .* is before its start"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        parse_schedule("rate(1 hour)", **kwargs)  # type: ignore[arg-type]


def test_naive_times_are_refused() -> None:
    schedule = parse_schedule("rate(1 hour)")
    with pytest.raises(InvalidArgumentError, match="t must be a datetime with a time zone"):
        schedule.next_after(datetime(2024, 1, 1))
    with pytest.raises(InvalidArgumentError, match="until must be a datetime"):
        list(schedule.ticks(utc(2024, 1, 1), datetime(2024, 1, 2)))


def test_invalid_argument_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_schedule("rate(0 minutes)")


# -- the CLI --------------------------------------------------------------------------------


def test_cli_prints_the_next_ticks_in_the_time_zone(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(
        [
            "schedules",
            "next",
            "cron(30 2 * * ? *)",
            "--timezone",
            "America/New_York",
            "--count",
            "3",
            "--after",
            "2024-03-08T00:00:00Z",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.split() == [
        "2024-03-08T02:30:00-05:00",
        "2024-03-09T02:30:00-05:00",
        "2024-03-11T02:30:00-04:00",
    ]


def test_cli_stops_when_the_schedule_ends(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["schedules", "next", "at(2030-01-01T00:00:00)", "--after", "2024-01-01"]) == 0
    assert capsys.readouterr().out.split() == ["2030-01-01T00:00:00+00:00"]


def test_cli_reports_a_bad_expression_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["schedules", "next", "rate(1 minutes)"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("logway: error:") and "'minute', not 'minutes'" in err
    assert err.count("\n") == 1


def _all_days(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(n) for n in range(366 if calendar.isleap(year) else 365)]
