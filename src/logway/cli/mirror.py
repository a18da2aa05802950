"""``logway mirror SRC_URL DST_URL``: copy topics between any two brokers, resuming
from a consumer group on the source (one per destination unless ``--group`` names
another); ``--follow`` keeps copying until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import logway
from logway.broker import SCHEMES
from logway.cli.common import log_to_stderr, table
from logway.errors import InvalidArgumentError, UnknownSchemeError
from logway.mirror import GROUP_PREFIX, MirrorResult, mirror


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cmd = sub.add_parser(
        "mirror",
        help="copy topics from one broker to another (any backends), resuming where it left off",
    )
    cmd.add_argument("source", metavar="SRC_URL", help="where to copy from, e.g. file:./data")
    cmd.add_argument("dest", metavar="DST_URL", help="where to copy to, e.g. logway://host:7070")
    cmd.add_argument(
        "-t",
        "--topics",
        metavar="A,B",
        help="comma-separated topics (default: all of the source's except internal __ ones)",
    )
    cmd.add_argument(
        "-g",
        "--group",
        help=(
            "the consumer group on the source that keeps the position (default: the "
            f"destination's own, {GROUP_PREFIX}@ and its URL without credentials or options)"
        ),
    )
    cmd.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep copying new records until SIGINT/SIGTERM (default: up to the current end)",
    )
    cmd.add_argument(
        "--batch", type=int, default=500, metavar="N", help="records per fetch and produce"
    )
    cmd.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    topics = None
    if args.topics is not None:
        topics = [t.strip() for t in args.topics.split(",") if t.strip()]
        if not topics:
            raise InvalidArgumentError("--topics names no topic; use --topics a,b")
    if args.batch < 1:
        raise InvalidArgumentError(f"--batch must be at least 1, not {args.batch}")
    # check both URLs before opening either, so that a typo changes nothing anywhere
    _check_url(args.source, "source")
    _check_url(args.dest, "destination")
    if args.source == args.dest and not args.source.lower().startswith("memory:"):
        raise InvalidArgumentError(f"the source and the destination are both {args.source}")
    log_to_stderr("logway.mirror", "logway mirror: ")
    with (
        logway.connect(args.source) as source,
        logway.connect(args.dest) as dest,
        _stop_on_signals() as stop,
    ):
        result = mirror(
            source, dest, topics, args.group, follow=args.follow, stop=stop, max_records=args.batch
        )
    _print_summary(result)
    return 0


def _check_url(url: str, what: str) -> None:
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in SCHEMES:
        known = ", ".join(f"{s}:" for s in SCHEMES)
        raise UnknownSchemeError(
            f"the {what} {url!r} has no known scheme; known schemes: {known} "
            "(for example file:./logway-data or logway://127.0.0.1:7070)"
        )
    if scheme == "file" and what == "source":
        path = url.split(":", 1)[1]
        path = path[2:] if path.startswith("//") else path
        if path and not os.path.isdir(path):
            raise InvalidArgumentError(
                f"the source {url!r} names no data directory ({path} does not exist)"
            )


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """An event set by the first SIGINT or SIGTERM (a second one acts as usual)."""
    stop = threading.Event()
    originals = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handle(signum: int, frame: FrameType | None) -> None:
        for sig, original in originals.items():
            signal.signal(sig, original)
        # work in another thread: the handler may run while this one holds the event's
        # lock or is writing to stderr
        threading.Thread(target=stopping, daemon=True).start()

    def stopping() -> None:
        print("logway mirror: stopping after the batch in flight", file=sys.stderr, flush=True)
        stop.set()

    for sig in originals:
        signal.signal(sig, handle)
    try:
        yield stop
    finally:
        for sig, original in originals.items():
            signal.signal(sig, original)


def _print_summary(result: MirrorResult) -> None:
    rows = []
    for report in result.topics.values():
        notes = []
        if report.created:
            notes.append("created")
        lost = sum(report.skipped.values())
        if lost:
            notes.append(f"{lost} record(s) lost to retention before copying")
        rows.append([report.topic, report.partitions, report.copied, ", ".join(notes)])
    if rows:
        print(table(rows, ["TOPIC", "PARTITIONS", "COPIED", "NOTE"]))
    ending = " (stopped)" if result.stopped else ""
    print(
        f"copied {result.copied} record(s) of {len(result.topics)} topic(s); position kept in "
        f"group {result.group!r} on the source{ending}"
    )
