"""Backup and restore of topics to object storage (a directory or S3).

``backup(broker, topic, dest)`` copies a topic's records into objects of Kafka
RecordBatch v2 data (their true offsets, timestamps, keys, values and headers) under
``TOPIC/PARTITION/FIRST-LAST.batches``, then writes ``TOPIC/manifest.json``; later
runs add what is new. ``restore(broker, src, new_topic)`` rebuilds the topic under a
new name with the same partitions, settings and offsets, checking every object.

A feature: written against the ``Broker`` protocol (``write_at``, and the bulk paths
``read_batches``/``write_batches`` of ``logway.broker``), so it runs on every backend.
"""

from logway.backup.manifest import BackupObject, Gap, Manifest, PartitionBackup, read_manifest
from logway.backup.restorer import RestoreResult, marker_topic, restore
from logway.backup.writer import DEFAULT_OBJECT_BYTES, BackupResult, backup

__all__ = [
    "DEFAULT_OBJECT_BYTES",
    "BackupObject",
    "BackupResult",
    "Gap",
    "Manifest",
    "PartitionBackup",
    "RestoreResult",
    "backup",
    "marker_topic",
    "read_manifest",
    "restore",
]
