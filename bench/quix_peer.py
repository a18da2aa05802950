"""Quix Streams reading a topic with the handler of the Kafka functions benchmark.

Runs in a virtualenv of its own (``peers.QuixStreams`` makes it: Quix Streams pins
an older confluent-kafka than logway's), so it imports nothing of logway's. A fresh
consumer group reads the topic from the start; each value is decoded with
``json.loads`` in ``StreamingDataFrame.update``, as the logway function and the bare
loop do. Prints one JSON line: the seconds from the first record handled to the last.

Usage: ``python quix_peer.py SERVERS TOPIC GROUP RECORDS SESSION_TIMEOUT_MS``
"""

from __future__ import annotations

import json
import sys
import time

from quixstreams import Application


def main() -> None:
    servers, topic_name, group, records, session_ms = sys.argv[1:6]
    total = int(records)
    seen = 0
    first = last = 0.0
    loads = json.loads

    def handle(value: bytes) -> None:
        nonlocal seen, first, last
        if not seen:
            first = time.perf_counter()
        loads(value)
        seen += 1
        if seen == total:
            last = time.perf_counter()

    app = Application(
        broker_address=servers,
        consumer_group=group,
        auto_offset_reset="earliest",
        loglevel="WARNING",
        auto_create_topics=False,
        use_changelog_topics=False,
        # a short session, as for the other two: the broker holds a join for half of it
        consumer_extra_config={
            "session.timeout.ms": int(session_ms),
            "heartbeat.interval.ms": max(100, int(session_ms) // 10),
        },
    )
    topic = app.topic(topic_name, value_deserializer="bytes")
    app.dataframe(topic).update(handle)
    app.run(count=total, collect=False)
    if seen != total:
        raise SystemExit(f"Quix Streams handled {seen} records of {total}")
    print(json.dumps({"seconds": last - first, "records": seen}))


if __name__ == "__main__":
    main()
