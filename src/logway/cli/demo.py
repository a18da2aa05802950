"""``logway demo``: the main job of ``make run`` for now. It creates a topic,
produces keyed records, consumes them as a group and prints the lag."""

from __future__ import annotations

import argparse

from logway.cli.common import open_broker, table
from logway.errors import TopicExistsError
from logway.records import Message


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="a short tour: produce, consume, commit, lag")
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    with open_broker(args) as broker:
        print(f"logway demo on {broker.url}")
        try:
            broker.create_topic("demo.orders", partitions=3)
            print("created topic demo.orders with 3 partitions")
        except TopicExistsError:
            print("topic demo.orders exists; appending to it")
        users = ["alice", "bob", "carol", "dave"]
        batch = [
            Message(
                f'{{"order": {i}, "user": "{users[i % 4]}"}}',
                key=users[i % 4],
                headers={"source": "demo"},
            )
            for i in range(12)
        ]
        produced = broker.produce_many("demo.orders", batch)
        for meta, msg in zip(produced, batch, strict=True):
            print(
                f"  produced key={msg.key!s:<6} -> partition {meta.partition} offset {meta.offset}"
            )
        with broker.consumer("demo.orders", group="demo.billing") as consumer:
            records = consumer.poll(timeout=1.0, max_records=8)
            for rec in records:
                key = rec.key.decode() if rec.key else None
                value = rec.value.decode() if rec.value else None
                print(f"  consumed {rec.topic}/{rec.partition}@{rec.offset} key={key} {value}")
            consumer.commit()
        print("lag of group demo.billing (end offset - committed):")
        lags = broker.lag("demo.billing", "demo.orders")
        print(
            table(
                [[x.partition, x.committed, x.end_offset, x.lag] for x in lags],
                ["PARTITION", "COMMITTED", "END", "LAG"],
            )
        )
        print("run it again: offsets keep growing, and the group resumes where it committed.")
    return 0
