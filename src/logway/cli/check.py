"""``logway check``: verify every stored batch of an embedded data directory."""

from __future__ import annotations

import argparse
import sys

from logway.backends.embedded import EmbeddedBroker
from logway.cli.common import open_broker
from logway.errors import InvalidArgumentError
from logway.log.check import check_log


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = sub.add_parser("check", help="verify the CRC of every stored batch")
    check.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        if not isinstance(broker, EmbeddedBroker):
            raise InvalidArgumentError(
                "logway check verifies an embedded data directory (file:PATH)"
            )
        report = check_log(broker.log)
    print(
        f"checked {report.segments} segment(s), {report.batches} batch(es), "
        f"{report.records} record(s)"
    )
    if report.truncated_bytes:
        print(f"recovery cut {report.truncated_bytes} byte(s) of torn writes at open")
    for problem in report.problems:
        print(
            f"CORRUPT {problem.path} at byte {problem.position} (offset {problem.offset}): "
            f"{problem.reason}",
            file=sys.stderr,
        )
    if report.problems:
        print(f"{len(report.problems)} problem(s) found", file=sys.stderr)
        return 1
    print("no problems found")
    return 0
