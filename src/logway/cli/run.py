"""``logway run module:app``: run an app's functions until SIGTERM or SIGINT, then
finish the batches in flight, commit, and exit 0."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

import logway
from logway.errors import InvalidArgumentError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run_cmd = sub.add_parser("run", help="run an app's functions (@app.function) until stopped")
    run_cmd.add_argument(
        "app", metavar="MODULE[:ATTR]", help="the logway.App, e.g. myapp:app (attr default app)"
    )
    run_cmd.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from logway.app import load_app
    from logway.functions.runner import run_functions

    app = load_app(args.app)
    if not app.functions:
        raise InvalidArgumentError(f"{args.app} declares no functions (@app.function)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with logway.connect(args.url or app.url) as broker:
        app.ensure_topics(broker)

        async def main() -> None:
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stopping.set)
            names = ", ".join(f"{f.name} <- {f.source}" for f in app.functions)
            print(f"logway running {app.name}: {names}", flush=True)
            await run_functions(broker, app.name, app.functions, stopping)

        asyncio.run(main())
    print(f"logway stopped {app.name}", file=sys.stderr)
    return 0
