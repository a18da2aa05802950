"""``logway topics create|list|describe|delete``."""

from __future__ import annotations

import argparse

from logway.cli.common import open_broker, parse_pairs, table


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    topics = sub.add_parser("topics", help="create, list, describe and delete topics")
    tsub = topics.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = tsub.add_parser("create", help="create a topic")
    create.add_argument("name")
    create.add_argument(
        "-p", "--partitions", type=int, default=1, help="how many partitions (default 1)"
    )
    create.add_argument(
        "-c",
        "--config",
        action="append",
        metavar="NAME=VALUE",
        help="a topic setting, e.g. retention_ms=1d or retention.bytes=1GB (repeatable)",
    )
    create.set_defaults(run=create_topic)
    tsub.add_parser("list", help="list topics").set_defaults(run=list_topics)
    describe = tsub.add_parser("describe", help="partitions, offsets and settings of a topic")
    describe.add_argument("name")
    describe.set_defaults(run=describe_topic)
    delete = tsub.add_parser("delete", help="delete a topic and its records")
    delete.add_argument("name")
    delete.set_defaults(run=delete_topic)


def create_topic(args: argparse.Namespace) -> int:
    config = dict(parse_pairs(args.config, "--config"))
    with open_broker(args) as broker:
        info = broker.create_topic(args.name, args.partitions, **config)
    print(f"created topic {info.name} with {info.partitions} partition(s)")
    return 0


def list_topics(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        for name in broker.list_topics():
            print(name)
    return 0


def describe_topic(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        info = broker.describe_topic(args.name)
        starts, ends = broker.start_offsets(args.name), broker.end_offsets(args.name)
    print(f"topic {info.name}: {info.partitions} partition(s)")
    for key, value in sorted(info.config.items()):
        print(f"  {key} = {value}")
    rows = [[p, starts[p], ends[p], ends[p] - starts[p]] for p in sorted(ends)]
    print(table(rows, ["PARTITION", "START", "END", "RECORDS"]))
    return 0


def delete_topic(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        broker.delete_topic(args.name)
    print(f"deleted topic {args.name}")
    return 0
