"""Entry point of the ``logway`` command: parse, run, report errors in one line."""

from __future__ import annotations

import argparse
import os
import sys

from logway.cli import auth as auth_command
from logway.cli import backup as backup_command
from logway.cli import (
    check,
    clock,
    consume,
    deliver,
    demo,
    functions,
    groups,
    mirror,
    produce,
    run,
    serve,
    topics,
)
from logway.cli import query as query_command
from logway.cli import queues as queues_command
from logway.cli import schedules as schedules_command
from logway.cli import schemas as schemas_command
from logway.cli import sql as sql_command
from logway.errors import LogwayError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logway", description="logway: a log-based event streaming platform."
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("LOGWAY_URL"),
        help="broker URL, also $LOGWAY_URL: file:PATH (a log on disk; default "
        "file:./logway-data), memory: (a log that lasts one command), logway://HOST:PORT "
        "(a logway serve process) or kafka://HOST:PORT[,HOST:PORT...][?OPTION=VALUE&...] "
        "(a Kafka cluster)",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="an API token (logway tokens create) for a logway:// server that asks for "
        "one; also $LOGWAY_TOKEN, which keeps it out of the process list",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (
        topics,
        produce,
        consume,
        groups,
        mirror,
        deliver,
        check,
        demo,
        serve,
        run,
        functions,
        clock,
    ):
        module.add_parser(sub)
    query_command.add_parser(sub)
    backup_command.add_parser(sub)
    auth_command.add_parser(sub)  # users, tokens, acls
    schemas_command.add_parser(sub)
    schedules_command.add_parser(sub)
    queues_command.add_parser(sub)
    sql_command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.token:  # every logway:// connection this command opens presents it
        os.environ["LOGWAY_TOKEN"] = args.token
    try:
        code: int = args.run(args)
        return code
    except LogwayError as exc:
        print(f"logway: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(
            f"logway: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
