"""Run the front doors of one broker in one asyncio loop, until SIGTERM/SIGINT.

Keepalives suit load balancers with 60 s idle timeouts: the server pings idle
connections every 30 s and accepts client pings every 10 s; subscriptions also
send heartbeat messages. On SIGTERM new calls are refused, open streams get a
grace period to end with a status, then the log is closed cleanly (every
acknowledged record was already written before its acknowledgement).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

import grpc

from logway.broker import Broker
from logway.server.grpc_service import LogService
from logway.v1 import log_pb2_grpc

log = logging.getLogger("logway.server")

KEEPALIVE_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
]


class Server:
    """The gRPC server (and, later, HTTP) of one broker."""

    def __init__(
        self, broker: Broker, *, host: str = "127.0.0.1", grpc_port: int = 7070, grace: float = 5.0
    ):
        self.broker = broker
        self.host = host
        self.grpc_port = grpc_port
        self.grace = grace
        self.service = LogService(broker)
        self._grpc: grpc.aio.Server | None = None
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        self._grpc = grpc.aio.server(options=KEEPALIVE_OPTIONS)
        log_pb2_grpc.add_LogServicer_to_server(self.service, self._grpc)
        self.grpc_port = self._grpc.add_insecure_port(f"{self.host}:{self.grpc_port}")
        await self._grpc.start()

    async def stop(self) -> None:
        if self._grpc is not None:
            await self._grpc.stop(self.grace)
        self._stopped.set()

    async def wait(self) -> None:
        await self._stopped.wait()


async def serve(
    broker: Broker, *, host: str, grpc_port: int, ready: Callable[[Server], None] | None = None
) -> None:
    server = Server(broker, host=host, grpc_port=grpc_port)
    await server.start()
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    def on_signal() -> None:
        if not stopping:
            log.info("stopping: finishing open calls")
            stopping.append(loop.create_task(server.stop()))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    if ready is not None:
        ready(server)
    try:
        await server.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
