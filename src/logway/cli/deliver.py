"""``logway deliver TOPIC DEST``: an ad hoc delivery stream, records of a topic into
Parquet or JSONL files in a directory or an S3 bucket, until SIGINT/SIGTERM (or, with
``--once``, up to the records there are now). Its position is the consumer group
``logway-deliver.<name>``, so a rerun goes on where the last one stopped."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

import logway
from logway.delivery.runner import DeliveryRunner
from logway.delivery.settings import DeliverySettings, DeliverySpec
from logway.names import validate_topic_name

APP_NAME = "logway-deliver"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(
        "deliver",
        help="deliver a topic's records into Parquet/JSONL files (a directory or s3://)",
    )
    cmd.add_argument("topic", metavar="TOPIC")
    cmd.add_argument("dest", metavar="DEST", help="a directory, file:PATH or s3://bucket/prefix")
    cmd.add_argument(
        "--name", help=f"the delivery's name; its group is {APP_NAME}.NAME (default: TOPIC)"
    )
    cmd.add_argument(
        "--format",
        choices=("parquet", "jsonl"),
        default="parquet",
        help="parquet: columnar files for SQL (default); jsonl: one JSON object a line",
    )
    cmd.add_argument(
        "--compression", help="parquet: snappy (default), zstd, gzip, none; jsonl: none, gzip, zstd"
    )
    cmd.add_argument(
        "--schema",
        choices=("registry",),
        help="registry: values are in the schema registry's wire format, and Parquet "
        "columns are typed from their Protobuf or Avro schemas (the default for a topic "
        "with a value_schema)",
    )
    cmd.add_argument("--buffer-size", default="64MB", help="1MB to 128MB (default 64MB)")
    cmd.add_argument("--buffer-interval", default="60s", help="0s to 900s (default 60s)")
    cmd.add_argument("--prefix", help="object prefix template (default year={year}/month=.../)")
    cmd.add_argument("--error-prefix", help="prefix for records that failed")
    cmd.add_argument(
        "--start",
        choices=("earliest", "latest"),
        default="earliest",
        help="where a new delivery begins (default earliest)",
    )
    cmd.add_argument(
        "--once", action="store_true", help="deliver the records there are now, then exit"
    )
    cmd.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    options: dict[str, object] = {
        "format": args.format,
        "buffer_size": args.buffer_size,
        "buffer_interval": args.buffer_interval,
        "starting_position": args.start,
    }
    for name in ("compression", "prefix", "error_prefix", "schema"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    settings = DeliverySettings.build(args.dest, **options)  # refused before connecting
    validate_topic_name(args.topic)
    spec = DeliverySpec(args.name or args.topic, args.topic, settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with logway.connect(args.url) as broker:
        broker.describe_topic(args.topic)  # an unknown topic is an error, not a wait
        runner = DeliveryRunner(broker, APP_NAME, spec, until_end=args.once)

        async def main() -> None:
            stopping = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stopping.set)
            print(f"logway delivering {args.topic} -> {runner.store.url}", flush=True)
            await runner.run(stopping)

        asyncio.run(main())
    status = runner.status()
    print(json.dumps({k: v for k, v in status.items() if k != "partitions"}), file=sys.stderr)
    return 0
