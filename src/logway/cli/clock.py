"""``logway clock TOPIC``: publish a tick record every minute (and/or hour) until
stopped, as the schedules ``cron(* * * * ? *)`` and ``cron(0 * * * ? *)`` of
``logway.schedules.runner`` (exactly once, however many clocks run on the topic)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import signal
import sys
from typing import Any

import logway
from logway.schedules import parse_schedule
from logway.schedules.runner import ScheduleRunner, ScheduleSpec, schedule_spec

EXPRESSIONS = {"minute": "cron(* * * * ? *)", "hour": "cron(0 * * * ? *)"}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    clock = sub.add_parser(
        "clock",
        help="publish a tick record to a topic every minute (and/or hour) until stopped",
    )
    clock.add_argument("topic", metavar="TOPIC", help="where the ticks go (created when missing)")
    clock.add_argument("--minutes", action="store_true", help="a tick every minute (the default)")
    clock.add_argument("--hours", action="store_true", help="a tick every hour, on the hour")
    clock.add_argument(
        "--timezone",
        default="UTC",
        help="IANA time zone of the ticks' times and of 'on the hour' (UTC)",
    )
    clock.set_defaults(run=run)


def clock_specs(
    topic: str, *, minutes: bool = False, hours: bool = False, timezone: str = "UTC"
) -> list[ScheduleSpec]:
    """The clock's schedules: ``clock.TOPIC.minute`` and/or ``clock.TOPIC.hour``, whose
    values are ``{"time": <ISO 8601 in the time zone>, "unit": "minute"|"hour"}``."""
    units = [u for u, wanted in (("minute", minutes), ("hour", hours)) if wanted] or ["minute"]
    zone = parse_schedule(EXPRESSIONS["minute"], timezone=timezone).timezone
    specs = []
    for unit in units:
        spec = schedule_spec(
            "clock",
            EXPRESSIONS[unit],
            topic=topic,
            timezone=timezone,
            name=f"{topic}.{unit}",
            value=lambda tick, unit=unit, zone=zone: {
                "time": tick.astimezone(zone).isoformat(),
                "unit": unit,
            },
        )
        specs.append(spec)
    return specs


def run(args: argparse.Namespace) -> int:
    specs = clock_specs(args.topic, minutes=args.minutes, hours=args.hours, timezone=args.timezone)
    zone = specs[0].schedule.timezone

    def printer(unit: str) -> Any:
        def published(tick: dt.datetime) -> None:
            print(f"{tick.astimezone(zone).isoformat()} {unit}", flush=True)

        return published

    with logway.connect(args.url) as broker:
        runners = [
            ScheduleRunner(broker, spec, published=printer(spec.name.rsplit(".", 1)[1]))
            for spec in specs
        ]

        async def main() -> None:
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stopping.set)
            units = " and ".join(s.name.rsplit(".", 1)[1] for s in specs)
            print(f"logway clock: a tick every {units} to {args.topic}", flush=True)
            await asyncio.gather(*(r.run(stopping) for r in runners))

        asyncio.run(main())
    print("logway clock stopped", file=sys.stderr)
    return 0
