"""Delivery streams: records from a topic into files a data team can query, as Kinesis
Data Firehose delivers them — buffered, transformed, converted to Parquet (typed
from the schema registry when values are in its wire format) or JSONL,
compressed, under Hive-style date prefixes, in a directory or an S3 bucket — with
exactly-once files (see ``logway.delivery.runner``)."""

from logway.delivery.transform import Dropped, Ok, ProcessingFailed

__all__ = ["Dropped", "Ok", "ProcessingFailed"]
