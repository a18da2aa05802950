"""Jobs that one process at a time runs, whichever processes run the app: windows,
continuous queries, schedules. ``Lease``, ``run_leased``, ``run_in_thread`` and
``newest`` (a topic's newest record of a kind, read backwards, to find where a job
left off).

Every process that runs an app declares its jobs; for each, the processes join the
consumer group ``<job>.lease`` on the one-partition topic ``__logway_leases``, and the
member the group hands that partition to runs the job while the others wait. When the
runner stops, dies (its membership ends with its connection) or loses the partition in
a rebalance, another member gets it, restores the job's last checkpoint and goes on:
the state moves with the partition, as Kafka Streams moves a task. A job that stores
what it did (numbered results, ticks) finds on taking over where the previous holder
stopped, so nothing is done twice.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from logway.broker import Broker, Consumer, ensure_topic
from logway.records import Record

LEASE_TOPIC = "__logway_leases"
WAIT_S = 0.05


class Lease:
    """The lease of ``job``: held while this member is assigned the lease partition."""

    def __init__(self, broker: Broker, job: str):
        ensure_topic(broker, LEASE_TOPIC, partitions=1)
        self.consumer: Consumer = broker.consumer(LEASE_TOPIC, group=f"{job}.lease", start="latest")

    def held(self) -> bool:
        return bool(self.consumer.assignment())

    def wait(self, stop: threading.Event) -> bool:
        """Wait until the lease is held (True) or ``stop`` is set (False)."""
        while not stop.is_set():
            if self.held():
                return True
            stop.wait(WAIT_S)
        return False

    def close(self) -> None:
        self.consumer.close()


def run_leased(
    broker: Broker,
    job: str,
    stop: threading.Event,
    run: Callable[[Callable[[], bool]], None],
) -> None:
    """Call ``run(lost)`` whenever this process holds the lease of ``job``, until
    ``stop``; ``run`` returns when ``stop`` is set or ``lost()`` says the lease moved
    (then it must not write anything more, not even a checkpoint)."""
    lease = Lease(broker, job)
    try:
        while lease.wait(stop):
            run(lambda: not lease.held())
    finally:
        lease.close()


async def run_in_thread(
    run_until: Callable[[threading.Event], None], stopping: asyncio.Event
) -> None:
    """Run ``run_until(stop)`` in a thread until ``stopping`` is set (or it returns)."""
    stop = threading.Event()
    work = asyncio.ensure_future(asyncio.to_thread(run_until, stop))
    waiting = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({work, waiting}, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    waiting.cancel()
    await work


def newest(
    broker: Broker, topic: str, wanted: Callable[[Record], bool]
) -> list[tuple[int, Record]]:
    """Per partition of ``topic``, its newest record that is ``wanted``, read from the
    end backwards."""
    out = []
    starts = broker.start_offsets(topic)
    for p, end in broker.end_offsets(topic).items():
        high = end
        while high > starts[p]:
            low = max(starts[p], high - 256)
            hit = _last(broker, topic, p, low, high, wanted)
            if hit is not None:
                out.append((p, hit))
                break
            high = low
    return out


def _last(
    broker: Broker,
    topic: str,
    partition: int,
    low: int,
    high: int,
    wanted: Callable[[Record], bool],
) -> Record | None:
    """The last ``wanted`` record of ``partition`` from ``low`` up to ``high``. A fetch
    stops after about a megabyte, so a range of big records (checkpoints) takes several."""
    hit = None
    at = low
    while at < high:
        got = broker.fetch(topic, partition, at, max_records=high - at)
        if not got:
            break
        for record in got:
            if record.offset < high and wanted(record):
                hit = record
        at = got[-1].offset + 1
    return hit
