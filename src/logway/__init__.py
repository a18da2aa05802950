"""logway: a log-based event streaming platform for Python.

``logway.connect()`` opens a ``Broker``: a durable, partitioned commit log you
produce records to and consume them from, embedded on a local directory by
default.
"""

from logway.app import App
from logway.broker import Broker, Consumer, connect
from logway.errors import (
    ClosedError,
    CorruptRecordError,
    DataDirLockedError,
    InvalidArgumentError,
    InvalidTopicNameError,
    LogwayError,
    OffsetOutOfRangeError,
    RecordTooLargeError,
    StorageError,
    TopicExistsError,
    UnknownGroupError,
    UnknownSchemeError,
    UnknownTopicError,
)
from logway.functions.batch import Batch
from logway.records import (
    Message,
    PartitionLag,
    ProducedBatch,
    Record,
    RecordMetadata,
    TopicInfo,
    TopicPartition,
)

__version__ = "0.1.0"

__all__ = [
    "App",
    "Batch",
    "Broker",
    "ClosedError",
    "Consumer",
    "CorruptRecordError",
    "DataDirLockedError",
    "InvalidArgumentError",
    "InvalidTopicNameError",
    "LogwayError",
    "Message",
    "OffsetOutOfRangeError",
    "PartitionLag",
    "ProducedBatch",
    "Record",
    "RecordMetadata",
    "RecordTooLargeError",
    "StorageError",
    "TopicExistsError",
    "TopicInfo",
    "TopicPartition",
    "UnknownGroupError",
    "UnknownSchemeError",
    "UnknownTopicError",
    "connect",
]
