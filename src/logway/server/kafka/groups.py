"""Kafka's classic consumer group protocol (placeholder until the coordinator lands)."""

from __future__ import annotations

from logway.broker import Broker


class GroupCoordinator:
    def __init__(self, broker: Broker):
        self.broker = broker
