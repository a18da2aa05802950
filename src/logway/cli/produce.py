"""``logway produce TOPIC``: one record per line of standard input; with ``--schema``
each line is JSON data written in the schema registry's wire format with the
subject's latest schema (a Protobuf schema's first message, read from its JSON
mapping; Avro and JSON Schema data as they are)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from logway.broker import schema_subject
from logway.cli.common import open_broker, parse_pairs
from logway.errors import InvalidArgumentError
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
    produce.add_argument(
        "--schema",
        nargs="?",
        const="",
        metavar="SUBJECT",
        help="each value is JSON data to write in the schema registry's wire format with "
        "SUBJECT's latest schema (default: the topic's value_schema, else TOPIC-value)",
    )
    produce.set_defaults(run=run)


def encoder(broker: Any, topic: str, subject: str) -> Callable[[bytes, int], bytes]:
    """``encode(line, number)``: a line of JSON in the wire format of the subject's
    latest schema; a line that does not fit says which and why."""
    from google.protobuf import json_format

    from logway.schemas.codecs import ProtobufCodec
    from logway.schemas.wire import FIRST_MESSAGE, frame

    subject = subject or schema_subject(broker, topic)
    latest = broker.schemas.get(subject)
    codec = broker.schemas.codec(latest.id)

    def encode(line: bytes, number: int) -> bytes:
        try:
            data = json.loads(line)
            if isinstance(codec, ProtobufCodec):
                message = codec.message_class(FIRST_MESSAGE)()
                json_format.ParseDict(data, message)
                return frame(latest.id, message.SerializeToString(), FIRST_MESSAGE)
            return frame(latest.id, codec.encode(data))
        except (ValueError, json_format.ParseError) as exc:
            raise InvalidArgumentError(
                f"line {number} does not fit {subject!r} version {latest.version}: {exc}; "
                "nothing from this chunk of lines was produced"
            ) from None

    return encode


def run(args: argparse.Namespace) -> int:
    headers = tuple((k, v.encode()) for k, v in parse_pairs(args.header, "--header"))
    sep = args.key_separator.encode() if args.key_separator else None
    total = 0
    with open_broker(args) as broker:
        broker.describe_topic(args.topic)  # fail before reading input when the topic is missing
        encode = None if args.schema is None else encoder(broker, args.topic, args.schema)
        chunk: list[Message] = []
        for number, raw in enumerate(sys.stdin.buffer, 1):
            line = raw.rstrip(b"\r\n")
            key = None
            if sep is not None:
                key, found, value = line.partition(sep)
                if not found:
                    key, value = None, line
            else:
                value = line
            if encode is not None:
                value = encode(value, number)
            chunk.append(Message(value, key, headers, args.partition))
            if len(chunk) >= CHUNK:
                total += len(broker.produce_many(args.topic, chunk))
                chunk = []
        if chunk:
            total += len(broker.produce_many(args.topic, chunk))
    print(f"produced {total} record(s) to {args.topic}", file=sys.stderr)
    return 0
