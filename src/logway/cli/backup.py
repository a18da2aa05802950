"""``logway backup TOPIC DEST`` and ``logway restore SRC --topic NEW``: a topic to object
storage (a directory, file:PATH or s3://bucket/prefix) and back, offsets and all."""

from __future__ import annotations

import argparse
import sys

from logway.backup import DEFAULT_OBJECT_BYTES, BackupResult, RestoreResult, backup, restore
from logway.cli.common import log_to_stderr, open_broker, parse_pairs, table
from logway.units import parse_size

URL_HELP = "broker URL (as the global --url): file:PATH, logway://HOST:PORT, kafka://..."


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(
        "backup",
        help="back up a topic to a directory or S3 (repeated runs add what is new)",
    )
    cmd.add_argument("topic", metavar="TOPIC")
    cmd.add_argument("dest", metavar="DEST", help="a directory, file:PATH or s3://bucket/prefix")
    cmd.add_argument(
        "--object-size",
        default=str(DEFAULT_OBJECT_BYTES),
        metavar="SIZE",
        help="target size of each object, e.g. 64MB (the default) or 1GB",
    )
    cmd.add_argument("--url", default=argparse.SUPPRESS, help=URL_HELP)
    cmd.set_defaults(run=run_backup)

    cmd = sub.add_parser(
        "restore",
        help="rebuild a backed-up topic as a new topic, with the same offsets",
    )
    cmd.add_argument(
        "src", metavar="SRC", help="where the backup is: a directory, file:PATH or s3://..."
    )
    cmd.add_argument("-t", "--topic", required=True, metavar="NEW", help="the topic to create")
    cmd.add_argument(
        "-s",
        "--source-topic",
        metavar="T",
        help="which backed-up topic (needed when SRC holds several)",
    )
    cmd.add_argument(
        "-c",
        "--config",
        action="append",
        metavar="NAME=VALUE",
        help="override a setting of the backup's, e.g. retention_ms=-1 (repeatable)",
    )
    cmd.add_argument(
        "--replace-incomplete",
        action="store_true",
        help="delete NEW first if an interrupted restore left it incomplete",
    )
    cmd.add_argument("--url", default=argparse.SUPPRESS, help=URL_HELP)
    cmd.set_defaults(run=run_restore)


def run_backup(args: argparse.Namespace) -> int:
    size = parse_size(args.object_size, "--object-size")
    log_to_stderr("logway.backup", "logway: %(levelname)s: ")
    with open_broker(args) as broker:
        result = backup(broker, args.topic, args.dest, object_bytes=size)
    _print_backup(result)
    return 0


def _print_backup(result: BackupResult) -> None:
    manifest = result.manifest
    assert manifest is not None
    rows = []
    for part in manifest.partitions:
        new = [o for o in result.objects if o.path.startswith(f"{result.topic}/{part.partition}/")]
        gaps = result.gaps.get(part.partition, [])
        note = "; ".join(
            f"GAP: offsets {g.from_offset}-{g.to_offset - 1} lost to retention" for g in gaps
        )
        rows.append(
            [
                part.partition,
                len(new),
                sum(o.records for o in new),
                sum(o.bytes for o in new),
                _held(part.start_offset, part.end_offset),
                note,
            ]
        )
    print(table(rows, ["PARTITION", "NEW OBJECTS", "RECORDS", "BYTES", "OFFSETS HELD", "NOTE"]))
    if result.removed:
        print(f"removed {len(result.removed)} object(s) an interrupted run had left")
    print(
        f"backed up {result.records} record(s) of {result.topic} in {len(result.objects)} new "
        f"object(s), {result.bytes} bytes, to {result.dest} (run {manifest.runs}; the backup "
        f"holds {manifest.records} record(s))"
    )
    lost = sum(len(g) for g in result.gaps.values())
    if lost:
        print(
            f"WARNING: retention deleted records before they were backed up ({lost} gap(s), "
            "recorded in the manifest)",
            file=sys.stderr,
        )


def _held(start: int, end: int) -> str:
    """The offsets a partition's backup covers, first to last inclusive as object names
    and the manifest's objects give them (``end`` is the offset after the last)."""
    return f"{start}-{end - 1}" if end > start else "none"


def run_restore(args: argparse.Namespace) -> int:
    config = dict(parse_pairs(args.config, "--config"))
    log_to_stderr("logway.backup", "logway: %(levelname)s: ")
    with open_broker(args) as broker:
        result = restore(
            broker,
            args.src,
            args.topic,
            source_topic=args.source_topic,
            config=config,
            replace_incomplete=args.replace_incomplete,
        )
    _print_restore(result)
    return 0


def _print_restore(result: RestoreResult) -> None:
    for warning in result.warnings:
        print(f"logway: warning: {warning}", file=sys.stderr)
    for partition, gaps in sorted(result.gaps.items()):
        for g in gaps:
            print(
                f"logway: note: the backup has no records at offsets {g.from_offset} to "
                f"{g.to_offset - 1} of partition {partition} (retention deleted them first)",
                file=sys.stderr,
            )
    if result.replaced_incomplete:
        print(f"replaced the incomplete topic {result.topic} an interrupted restore had left")
    print(
        f"restored {result.records} record(s) of {result.source_topic} ({result.partitions} "
        f"partition(s), {result.objects} object(s), {result.bytes} bytes, every checksum "
        f"verified) from {result.src} into topic {result.topic}"
    )
