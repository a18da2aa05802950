"""``logway consume TOPIC``: print records, from a point in the log, optionally as a
group member and following new records."""

from __future__ import annotations

import argparse
import json
import sys

from logway.broker import Broker, Start
from logway.cli.common import open_broker, parse_time, record_json, write_raw
from logway.errors import InvalidArgumentError
from logway.records import Record, TopicPartition


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    consume = sub.add_parser("consume", help="print records of a topic")
    consume.add_argument("topic")
    where = consume.add_mutually_exclusive_group()
    where.add_argument(
        "-b",
        "--from-beginning",
        action="store_true",
        help="start at the earliest record (default: only new records)",
    )
    where.add_argument("-o", "--offset", type=int, help="start at this offset (with --partition)")
    where.add_argument(
        "-s",
        "--since",
        metavar="TIME",
        help="start at the first record at or after TIME (ISO 8601, or 10m/2h/7d ago)",
    )
    consume.add_argument("-p", "--partition", type=int, help="read only this partition")
    consume.add_argument("-g", "--group", help="consume as a member of this group and commit")
    consume.add_argument(
        "-f", "--follow", action="store_true", help="keep waiting for new records (until Ctrl-C)"
    )
    consume.add_argument("-n", "--max-records", type=int, help="stop after this many records")
    consume.add_argument(
        "--format",
        choices=["raw", "json"],
        default="raw",
        help="raw: each value on a line (default); json: a JSON object a line with topic, "
        "partition, offset, timestamp, key, value and headers",
    )
    consume.add_argument(
        "--decode",
        action="store_true",
        help="decode values in the schema registry's wire format with the schema their id "
        "names, printed as JSON",
    )
    consume.add_argument(
        "-K",
        "--key-separator",
        metavar="SEP",
        help="raw format: print the key and SEP before each value",
    )
    consume.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    start: Start = "earliest" if args.from_beginning or args.offset is not None else "latest"
    if args.since:
        start = parse_time(args.since)
    if args.offset is not None and args.partition is None:
        raise InvalidArgumentError("--offset needs --partition")
    if args.max_records is not None and args.max_records < 1:
        raise InvalidArgumentError(f"--max-records must be at least 1, not {args.max_records}")
    printed = 0
    with open_broker(args) as broker:
        had_commits = bool(args.group and broker.committed(args.group, args.topic))
        partitions = None
        if args.partition is not None:
            partitions = [TopicPartition(args.topic, args.partition)]
        with broker.consumer(
            args.topic, group=args.group, start=start, partitions=partitions
        ) as consumer:
            if args.offset is not None:
                consumer.seek(TopicPartition(args.topic, args.partition), args.offset)
            stop_at = None if args.follow else broker.end_offsets(args.topic)
            while args.max_records is None or printed < args.max_records:
                if stop_at is not None and _caught_up(consumer.position(), stop_at):
                    break
                limit = 500 if args.max_records is None else min(500, args.max_records - printed)
                wait = 1.0 if stop_at is None else 0.5
                for record in consumer.poll(timeout=wait, max_records=limit):
                    if args.decode:
                        record = decoded(broker, record)
                    if args.format == "json":
                        sys.stdout.write(record_json(record) + "\n")
                    else:
                        sys.stdout.flush()
                        write_raw(record, args.key_separator)
                    printed += 1
                sys.stdout.flush()
                if args.group:
                    consumer.commit()
            if printed == 0 and stop_at is not None:
                print(f"logway consume: {_why_nothing(broker, args, had_commits)}", file=sys.stderr)
    return 0


def _why_nothing(broker: Broker, args: argparse.Namespace, had_commits: bool) -> str:
    """Why a consume without --follow printed no record, and what to add."""
    wait = "add -f to wait for new ones"
    where = args.topic if args.partition is None else f"{args.topic}/{args.partition}"
    if args.offset is not None:
        return f"no records at or after offset {args.offset} of {where}; {wait}"
    if had_commits:  # the group's committed offsets, not the start point, said where
        return (
            f"group {args.group} has read every record of {where}; {wait}, or move it back "
            f"with logway groups reset {args.group} --topic {args.topic} --to earliest"
        )
    if args.since:
        return f"no records at or after {args.since} in {where}; {wait}, or an earlier --since"
    starts, ends = broker.start_offsets(args.topic), broker.end_offsets(args.topic)
    held = sum(ends[p] - starts[p] for p in ends if args.partition is None or p == args.partition)
    if args.from_beginning or held == 0:
        return f"{where} holds no records; {wait}"
    return (
        f"no records after the end offsets of {where} ({held} record(s) before them); add "
        "--from-beginning to read from the start or -f to wait for new ones"
    )


def _caught_up(positions: dict[TopicPartition, int], ends: dict[int, int]) -> bool:
    return all(pos >= ends.get(tp.partition, 0) for tp, pos in positions.items())


def decoded(broker: Broker, record: Record) -> Record:
    """The record with its value, if in the registry's wire format, as JSON text of
    its decoded data (``--decode``); others as they are."""
    from logway.schemas.codecs import plain

    value = record.value
    if value is None or len(value) < 5 or value[0] != 0:
        return record
    data = plain(broker.schemas.decode(value))
    return record._replace(value=json.dumps(data, ensure_ascii=False, default=str).encode())
