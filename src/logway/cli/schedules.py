"""``logway schedules next``: check a schedule expression by printing its next ticks."""

from __future__ import annotations

import argparse
import datetime as dt

from logway.cli.common import parse_time
from logway.errors import InvalidArgumentError
from logway.schedules import parse_schedule


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schedules = sub.add_parser("schedules", help="schedule expressions: rate, cron, at")
    ssub = schedules.add_subparsers(dest="action", required=True, metavar="ACTION")
    nxt = ssub.add_parser("next", help="print the next ticks of an expression, in its time zone")
    nxt.add_argument(
        "expression", help="rate(5 minutes), cron(0 9 ? * MON-FRI *) or at(2030-01-31T09:00:00)"
    )
    nxt.add_argument(
        "--timezone", default="UTC", help="IANA time zone the expression is read in (UTC)"
    )
    nxt.add_argument("-n", "--count", type=int, default=5, help="how many ticks to print (5)")
    nxt.add_argument(
        "--after",
        default=None,
        help="print ticks after this time (ISO 8601, naive means UTC; default: now)",
    )
    nxt.set_defaults(run=next_ticks)


def next_ticks(args: argparse.Namespace) -> int:
    if args.count < 1:
        raise InvalidArgumentError(f"--count must be at least 1, got {args.count}")
    schedule = parse_schedule(args.expression, timezone=args.timezone)
    t = parse_time(args.after) if args.after else dt.datetime.now(dt.UTC)
    for _ in range(args.count):
        tick = schedule.next_after(t)
        if tick is None:
            break
        print(tick.astimezone(schedule.timezone).isoformat())
        t = tick
    return 0
