"""``logway run module:app``: run an app's functions, deliveries, windows, continuous
queries, schedules and notifications until SIGTERM or SIGINT, then finish the batches
in flight, flush the deliveries' buffers, commit, and exit 0."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

import logway
from logway.errors import InvalidArgumentError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run_cmd = sub.add_parser(
        "run",
        help="run an app's functions, deliveries, windows, queries, schedules and "
        "notifications until stopped",
    )
    run_cmd.add_argument(
        "app", metavar="MODULE[:ATTR]", help="the logway.App, e.g. myapp:app (attr default app)"
    )
    run_cmd.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from logway.app import load_app
    from logway.delivery.runner import run_deliveries
    from logway.functions.runner import run_functions

    app = load_app(args.app)
    if not (app.functions or app.deliveries or app.windows or app.schedules or app.notifications):
        raise InvalidArgumentError(
            f"{args.app} declares no functions (@app.function), deliveries (app.delivery), "
            "windows (app.window), continuous queries (app.sql) or schedules (app.schedule)"
            " or notifications (app.notify)"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with logway.connect(args.url or app.url) as broker:
        app.ensure_topics(broker)

        async def main() -> None:
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stopping.set)
            names = [f"{f.name} <- {f.source}" for f in app.functions]
            names += [f"{d.name} <- {d.source} -> {d.settings.to}" for d in app.deliveries]
            names += [f"{w.name} <- {w.source} -> {w.to}" for w in app.windows]
            names += [f"{n.name} <- {n.source} -> {n.to}" for n in app.notifications]
            names += [f"{s.name} {s.expression} -> {s.topic}" for s in app.schedules]
            print(f"logway running {app.name}: {', '.join(names)}", flush=True)
            running: list[Any] = [
                run_functions(broker, app.name, app.functions, stopping),
                run_deliveries(broker, app.name, app.deliveries, stopping),
            ]
            if app.windows:
                from logway.windows.runner import run_windows

                running.append(run_windows(broker, app.name, app.windows, stopping))
            if app.notifications:
                from logway.notify.runner import run_notifications

                running.append(run_notifications(broker, app.name, app.notifications, stopping))
            if app.schedules:
                from logway.schedules.runner import run_schedules

                running.append(run_schedules(broker, app.name, app.schedules, stopping))
            await asyncio.gather(*running)

        asyncio.run(main())
    print(f"logway stopped {app.name}", file=sys.stderr)
    return 0
