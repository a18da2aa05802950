"""Queues over topics: competing consumers that take records one at a time, as Kafka's
share groups (KIP-932) and SQS define them. ``broker.queue(topic, group)``.

- ``partition.py``: ``SharePartition``, the in-flight window of one partition.
- ``store.py``: ``QueueStore``, the state kept in ``__logway_queues``.
- ``queue.py``: ``QueueGroup`` (a queue in this process), ``Queue`` (a consumer),
  ``Delivery``.
"""

from logway.queues.queue import Delivery, Queue, QueueGroup, QueueSettings

__all__ = ["Delivery", "Queue", "QueueGroup", "QueueSettings"]
