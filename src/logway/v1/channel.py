"""gRPC channel settings both ends share: keepalives that outlive a load balancer's
60 s idle timeout (a ping every 30 s, even without calls), and 64 MiB messages."""

from __future__ import annotations

OPTIONS: list[tuple[str, int]] = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
]
# the server also accepts client pings as often as every 10 s
SERVER_OPTIONS = [*OPTIONS, ("grpc.http2.min_ping_interval_without_data_ms", 10_000)]
