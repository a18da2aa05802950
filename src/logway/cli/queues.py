"""``logway queues receive|status``: take records from a queue over a topic and settle
them, or show where a queue stands (``broker.queue``, ``logway.queues``).

``receive`` without ``--ack``, ``--release`` or ``--reject`` leaves what it printed in
flight, as SQS's ``receive-message`` does: the records go back to the queue when their
visibility timeout passes. Where the queue is held by this command's own process (a
``file:`` directory no other process has open, or ``kafka://``) that is at the next
receive, since a queue opened anew returns the records its previous holder had.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from logway.broker import Broker
from logway.cli.common import open_broker, record_json, table, write_raw
from logway.errors import InvalidArgumentError, PermissionDeniedError, UnknownTopicError
from logway.jobs import newest
from logway.queues import Queue, QueueSettings
from logway.queues.store import STATE_TOPIC
from logway.units import parse_duration_ms


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    queues = sub.add_parser("queues", help="queues over topics: receive and settle records, status")
    qsub = queues.add_subparsers(dest="action", required=True, metavar="ACTION")

    receive = qsub.add_parser(
        "receive",
        help="take records from a queue, print them, settle them",
        description="Receive up to N records from the queue GROUP over TOPIC, print them, "
        "then settle them as --ack, --release or --reject says. Without one they stay in "
        "flight and go back to the queue when their visibility timeout passes (at the "
        "next receive when this command holds the queue itself: a file: directory no "
        "other process has open, or kafka://), as SQS's receive-message leaves them.",
    )
    receive.add_argument("topic")
    receive.add_argument("group", help="the queue's name")
    receive.add_argument(
        "-n", "--max-records", type=int, default=1, help="receive up to N records (default 1)"
    )
    receive.add_argument(
        "-w",
        "--wait",
        default="0",
        metavar="SECONDS",
        help="wait up to this long for a first record: seconds or a duration such as 5s "
        "(default 0: only records available now)",
    )
    settle = receive.add_mutually_exclusive_group()
    settle.add_argument(
        "--ack", action="store_true", help="acknowledge them: never delivered again"
    )
    settle.add_argument(
        "--release",
        action="store_true",
        help="put them back at once (to the dead-letter topic after --max-receives)",
    )
    settle.add_argument(
        "--reject", metavar="REASON", help="send them to the dead-letter topic with REASON"
    )
    receive.add_argument(
        "--visibility-timeout",
        metavar="DURATION",
        help="how long a record is held before it goes back (default 30s)",
    )
    receive.add_argument(
        "--max-receives",
        type=int,
        metavar="N",
        help="deliveries before a released or timed-out record is dead-lettered (default 5)",
    )
    receive.add_argument(
        "--dead-letter", metavar="TOPIC", help="the dead-letter topic (default TOPIC-dlq)"
    )
    receive.add_argument(
        "--start",
        choices=("earliest", "latest"),
        help="where a new queue starts: at the topic's first record, or only records "
        "produced from now on (default latest)",
    )
    receive.add_argument(
        "--format",
        choices=("raw", "json"),
        default="raw",
        help="raw: each value on a line (default); json: a JSON object a line with topic, "
        "partition, offset, timestamp, key, value, headers, delivery_count and receipt",
    )
    receive.add_argument(
        "-K",
        "--key-separator",
        metavar="SEP",
        help="raw format: print the key and SEP before each value",
    )
    receive.set_defaults(run=receive_records)

    status = qsub.add_parser(
        "status",
        help="records in flight, available again, start offsets",
        description="Records in flight and available again, and the start offset per "
        "partition: every record below it is done (acknowledged or dead-lettered).",
    )
    status.add_argument("topic")
    status.add_argument("group", help="the queue's name")
    status.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="a summary and a table of partitions (default), or one JSON object",
    )
    status.set_defaults(run=show_status)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line, checked before anything is opened; only
    those, so a queue a server already holds is opened with its own."""
    settings: dict[str, Any] = {}
    if args.visibility_timeout is not None:
        if parse_duration_ms(args.visibility_timeout, "--visibility-timeout") <= 0:
            raise InvalidArgumentError(
                f"--visibility-timeout must be a positive duration such as 30s, not "
                f"{args.visibility_timeout!r}"
            )
        settings["visibility_timeout"] = args.visibility_timeout
    if args.max_receives is not None:
        if args.max_receives < 1:
            raise InvalidArgumentError(
                f"--max-receives must be at least 1, not {args.max_receives}"
            )
        settings["max_receives"] = args.max_receives
    if args.dead_letter is not None:
        if not args.dead_letter:
            raise InvalidArgumentError("--dead-letter names a topic, not an empty string")
        settings["dead_letter"] = args.dead_letter
    if args.start is not None:
        settings["start"] = args.start
    QueueSettings.build(args.topic, **settings)
    return settings


def _wait_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parse_duration_ms(text, "--wait") / 1000
        except InvalidArgumentError:
            raise InvalidArgumentError(
                f"--wait takes seconds or a duration such as 5s, not {text!r}"
            ) from None
    if not seconds >= 0:  # also NaN
        raise InvalidArgumentError(f"--wait must not be negative, not {text!r}")
    return seconds


def queue_exists(broker: Broker, topic: str, group: str) -> bool | None:
    """Whether the queue ``group`` over ``topic`` has state stored (its first open
    stores it); None when this caller may not read the state."""
    key = f"{group}\x00{topic}".encode()
    try:
        return bool(newest(broker, STATE_TOPIC, lambda r: r.key == key))
    except UnknownTopicError:  # no queue was ever opened on this broker
        return False
    except PermissionDeniedError:
        return None


def receive_records(args: argparse.Namespace) -> int:
    if args.max_records < 1:
        raise InvalidArgumentError(f"-n/--max-records must be at least 1, not {args.max_records}")
    wait = _wait_seconds(args.wait)
    settings = _settings(args)
    with open_broker(args) as broker:
        broker.describe_topic(args.topic)  # an unknown topic: refused before anything
        existed = None if args.start == "earliest" else queue_exists(broker, args.topic, args.group)
        queue = broker.queue(args.topic, args.group, **settings)
        got = queue.receive(max_records=args.max_records, timeout=wait)
        while got and len(got) < args.max_records:  # more that are there now, no waiting
            more = queue.receive(max_records=args.max_records - len(got), timeout=0)
            if not more:
                break
            got.extend(more)
        for delivery in got:
            if args.format == "json":
                fields = json.loads(record_json(delivery.record))
                fields["delivery_count"] = delivery.delivery_count
                fields["receipt"] = delivery.receipt
                sys.stdout.write(json.dumps(fields, ensure_ascii=False) + "\n")
            else:
                sys.stdout.flush()
                write_raw(delivery.record, args.key_separator)
        sys.stdout.flush()
        if not got:
            print(f"logway queues: {_why_nothing(broker, args, wait, existed)}", file=sys.stderr)
            return 0
        if args.ack:
            queue.ack(got)
            print(f"logway queues: acknowledged {len(got)} record(s)", file=sys.stderr)
        elif args.release:
            queue.release(got)
            print(f"logway queues: released {len(got)} record(s)", file=sys.stderr)
        elif args.reject is not None:
            queue.reject(got, args.reject)
            target = queue.shared.settings.dead_letter if _held_here(queue) else None
            target = target or args.dead_letter or "the queue's dead-letter topic"
            print(f"logway queues: rejected {len(got)} record(s) to {target}", file=sys.stderr)
        elif not _held_here(queue):
            print(
                f"logway queues: left {len(got)} record(s) in flight: they go back to the "
                "queue when their visibility timeout passes; settle them with --ack, "
                "--release or --reject REASON",
                file=sys.stderr,
            )
        else:
            print(
                f"logway queues: left {len(got)} record(s) in flight; this command held the "
                "queue itself (no server or other process had it open), so the next receive "
                "delivers them again; settle them with --ack, --release or --reject REASON",
                file=sys.stderr,
            )
    return 0


def _held_here(queue: Any) -> bool:
    """Whether the queue lives in this process (embedded or Kafka: a ``Queue`` over its
    ``QueueGroup``) rather than in a server it talks to (``logway://``, or a data
    directory another process owns)."""
    return isinstance(queue, Queue)


def _why_nothing(
    broker: Broker, args: argparse.Namespace, wait: float, existed: bool | None
) -> str:
    """Why a receive got no record, and what to do."""
    if existed is False:
        starts, ends = broker.start_offsets(args.topic), broker.end_offsets(args.topic)
        held = sum(ends[p] - starts[p] for p in ends)
        if held:
            return (
                f"no records: this command created the queue {args.group} over "
                f"{args.topic} at the topic's end (--start latest, the default), so the "
                f"{held} record(s) already there are not in it; it delivers records "
                "produced from now on. For those records, use a new queue name with "
                "--start earliest"
            )
    hint = "" if wait else "; add --wait SECONDS to wait for one"
    return f"no records available in the queue {args.group} over {args.topic}{hint}"


def show_status(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        broker.describe_topic(args.topic)
        if queue_exists(broker, args.topic, args.group) is False:
            # opening it would create it, at the topic's end: refuse rather than decide
            raise InvalidArgumentError(
                f"no queue {args.group!r} over {args.topic!r}: a queue is created by its "
                f"first receive (logway queues receive {args.topic} {args.group} "
                "[--start earliest])"
            )
        status = broker.queue(args.topic, args.group).status()
        ends = broker.end_offsets(args.topic)
    starts = {int(p): int(o) for p, o in status["start_offsets"].items()}
    if args.format == "json":
        out = {
            "queue": args.group,
            "topic": args.topic,
            "in_flight": status["in_flight"],
            "available_again": status["available_again"],
            "start_offsets": {str(p): starts[p] for p in sorted(starts)},
            "end_offsets": {str(p): ends[p] for p in sorted(ends)},
        }
        print(json.dumps(out))
        return 0
    print(f"queue {args.group} over {args.topic}")
    print(f"in flight: {status['in_flight']}")
    print(f"available again: {status['available_again']}")
    rows = [[p, starts[p], ends.get(p), ends.get(p, starts[p]) - starts[p]] for p in sorted(starts)]
    print(table(rows, ["PARTITION", "START", "END", "NOT DONE"]))
    return 0
