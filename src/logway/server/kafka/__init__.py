"""The Kafka wire protocol on ``logway serve``: every Kafka client and tool talks to
the log through it. ``listener`` accepts connections, ``wire`` frames and codes
messages (kio's classes, generated from Kafka's schemas), ``versions`` says which
APIs are served, and a module per group of APIs answers them over ``Broker``."""

from logway.server.kafka.listener import KafkaListener

__all__ = ["KafkaListener"]
