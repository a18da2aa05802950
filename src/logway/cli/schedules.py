"""``logway schedules next``: check a schedule expression by printing its next ticks;
``logway schedules list APP``: an app's schedules, with the last tick each published
(read from its topic) and the next."""

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
    lst = ssub.add_parser(
        "list", help="an app's schedules (app.schedule): expression, last tick and next tick"
    )
    lst.add_argument(
        "app", metavar="MODULE[:ATTR]", help="the logway.App, e.g. myapp:app (attr default app)"
    )
    lst.set_defaults(run=list_schedules)


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


def list_schedules(args: argparse.Namespace) -> int:
    import logway
    from logway.app import load_app
    from logway.schedules.runner import last_tick

    app = load_app(args.app)
    if not app.schedules:
        print(f"{args.app} declares no schedules (app.schedule)")
        return 0
    now = dt.datetime.now(dt.UTC)
    rows = [("NAME", "EXPRESSION", "TIMEZONE", "TOPIC", "LAST TICK", "NEXT TICK")]
    with logway.connect(args.url or app.url) as broker:
        for spec in app.schedules:
            schedule = spec.schedule
            last = last_tick(broker, spec.topic, spec.full_name)
            nxt = schedule.next_after(max(now, last) if last else now)
            rows.append(
                (
                    spec.full_name,
                    schedule.expression,
                    schedule.timezone.key,
                    spec.topic,
                    last.astimezone(schedule.timezone).isoformat() if last else "-",
                    nxt.astimezone(schedule.timezone).isoformat() if nxt else "-",
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0
