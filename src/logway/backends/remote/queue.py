"""The remote backend's queue consumer: ``RemoteQueue``, the methods of
``logway.queues.Queue`` over the ``Receive``, ``Ack`` and ``QueueStatus`` calls.

The server holds the queue (one ``QueueGroup`` for all its clients); this consumer
names itself in each call, so the records it holds are its own, and settles them by
(partition, offset, receipt) as the server delivered them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from logway.errors import InvalidArgumentError
from logway.queues.queue import Delivery, QueueSettings
from logway.v1 import convert
from logway.v1 import log_pb2 as pb

if TYPE_CHECKING:
    from logway.backends.remote import RemoteBroker

MAX_WAIT_S = 20.0  # one Receive waits at most this long; a longer timeout asks again
ACTIONS = {"ack": pb.ACK, "release": pb.RELEASE, "reject": pb.REJECT}


class RemoteQueue:
    """One consumer of the queue ``group`` over ``topic`` held by a logway server."""

    def __init__(self, broker: RemoteBroker, topic: str, group: str, settings: dict[str, Any]):
        QueueSettings.build(topic, **settings)  # refused here as the embedded backend does
        self._broker = broker
        self.topic = topic
        self.group = group
        self._settings = convert.queue_settings_to_pb(settings)
        self.name = f"queue-consumer-{uuid.uuid4().hex[:12]}"
        self.closed = False

    def receive(self, max_records: int = 1, timeout: float = 0.0) -> list[Delivery]:
        """Up to ``max_records`` records, waiting up to ``timeout`` seconds for one."""
        if self.closed:
            raise InvalidArgumentError("this queue consumer is closed")
        if isinstance(max_records, bool) or not isinstance(max_records, int) or max_records < 1:
            raise InvalidArgumentError(f"max_records must be at least 1, not {max_records!r}")
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            wait = min(MAX_WAIT_S, max(0.0, deadline - time.monotonic()))
            request = pb.ReceiveRequest(
                topic=self.topic,
                group=self.group,
                settings=self._settings,
                consumer=self.name,
                max_records=max_records,
                wait_ms=int(wait * 1000),
            )
            response = self._broker.call("Receive", request)
            if response.deliveries or time.monotonic() >= deadline:
                return [
                    Delivery(convert.record_from_pb(d.record), d.delivery_count, d.receipt, self)
                    for d in response.deliveries
                ]

    def _settle(self, deliveries: Sequence[Delivery], how: str, reason: str = "") -> None:
        request = pb.AckRequest(
            topic=self.topic,
            group=self.group,
            settings=self._settings,
            action=ACTIONS[how],
            deliveries=[
                pb.Settle(partition=d.record.partition, offset=d.record.offset, receipt=d.receipt)
                for d in deliveries
            ],
            reason=reason,
        )
        self._broker.call("Ack", request)

    def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Settle these deliveries: never delivered again. ``DeliveryExpiredError``
        (and nothing settled) when one is no longer held by this consumer."""
        self._settle(deliveries, "ack")

    def release(self, deliveries: Sequence[Delivery]) -> None:
        """Back to the queue now (to the dead-letter topic after ``max_receives``)."""
        self._settle(deliveries, "release")

    def reject(self, deliveries: Sequence[Delivery], reason: str = "rejected") -> None:
        """To the dead-letter topic, with ``reason``."""
        self._settle(deliveries, "reject", reason)

    def status(self) -> dict[str, Any]:
        request = pb.QueueStatusRequest(topic=self.topic, group=self.group, settings=self._settings)
        response = self._broker.call("QueueStatus", request)
        return {
            "queue": self.group,
            "topic": self.topic,
            "in_flight": response.in_flight,
            "available_again": response.available_again,
            "start_offsets": dict(response.start_offsets),
        }

    def close(self) -> None:
        """Stop receiving; records this consumer holds go back once their timeout passes."""
        self.closed = True

    def __enter__(self) -> RemoteQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
