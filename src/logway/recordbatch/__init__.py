"""Kafka RecordBatch v2, logway's record format on disk and on the wire.

The storage engine writes it to segment files; the server and the remote backend
carry it in gRPC messages, so records cross the network without a per-record
conversion. Both encode and decode here (in C where ``logway._speedups`` is built).
"""
