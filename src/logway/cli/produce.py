"""``logway produce TOPIC``: one record per line of standard input."""

from __future__ import annotations

import argparse
import sys

from logway.cli.common import open_broker, parse_pairs
from logway.records import Message

CHUNK = 1000


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    produce = sub.add_parser("produce", help="produce lines of standard input as records")
    produce.add_argument("topic")
    produce.add_argument(
        "-K",
        "--key-separator",
        metavar="SEP",
        help="split each line at the first SEP into key and value",
    )
    produce.add_argument(
        "-H",
        "--header",
        action="append",
        metavar="NAME=VALUE",
        help="add a header (repeatable)",
    )
    produce.add_argument("-p", "--partition", type=int, help="write every record to this partition")
    produce.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    headers = tuple((k, v.encode()) for k, v in parse_pairs(args.header, "--header"))
    sep = args.key_separator.encode() if args.key_separator else None
    total = 0
    with open_broker(args) as broker:
        broker.describe_topic(args.topic)  # fail before reading input when the topic is missing
        chunk: list[Message] = []
        for raw in sys.stdin.buffer:
            line = raw.rstrip(b"\r\n")
            key = None
            if sep is not None:
                key, found, value = line.partition(sep)
                if not found:
                    key, value = None, line
            else:
                value = line
            chunk.append(Message(value, key, headers, args.partition))
            if len(chunk) >= CHUNK:
                total += len(broker.produce_many(args.topic, chunk))
                chunk = []
        if chunk:
            total += len(broker.produce_many(args.topic, chunk))
    print(f"produced {total} record(s) to {args.topic}", file=sys.stderr)
    return 0
