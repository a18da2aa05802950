"""``logway groups list|describe|reset``."""

from __future__ import annotations

import argparse

from logway.broker import ResetTo
from logway.cli.common import open_broker, parse_time, table


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    groups = sub.add_parser("groups", help="consumer groups: list, lag, reset")
    gsub = groups.add_subparsers(dest="action", required=True, metavar="ACTION")
    gsub.add_parser("list", help="list groups with committed offsets").set_defaults(run=list_groups)
    describe = gsub.add_parser("describe", help="committed offsets and lag per partition")
    describe.add_argument("group")
    describe.add_argument("-t", "--topic", help="only this topic")
    describe.set_defaults(run=describe_group)
    reset = gsub.add_parser("reset", help="move a group's committed offsets")
    reset.add_argument("group")
    reset.add_argument("-t", "--topic", required=True, help="the topic whose offsets move")
    reset.add_argument(
        "--to",
        required=True,
        metavar="WHERE",
        help="earliest, latest, an offset, or a time (ISO 8601, or 10m/2h/7d ago)",
    )
    reset.set_defaults(run=reset_group)


def list_groups(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        for group in broker.list_groups():
            print(group)
    return 0


def describe_group(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        lags = broker.lag(args.group, args.topic)
    rows = [[x.topic, x.partition, x.committed, x.end_offset, x.lag] for x in lags]
    print(table(rows, ["TOPIC", "PARTITION", "COMMITTED", "END", "LAG"]))
    print(f"total lag: {sum(x.lag for x in lags)}")
    return 0


def reset_group(args: argparse.Namespace) -> int:
    to: ResetTo
    if args.to in ("earliest", "latest"):
        to = args.to
    elif args.to.lstrip("-").isdigit():
        to = int(args.to)
    else:
        to = parse_time(args.to)
    with open_broker(args) as broker:
        offsets = broker.reset_group(args.group, args.topic, to)
    for tp, offset in sorted(offsets.items()):
        print(f"{tp.topic}/{tp.partition} -> {offset}")
    return 0
