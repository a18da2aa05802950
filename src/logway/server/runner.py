"""Run the front doors of one broker in one asyncio loop, until SIGTERM/SIGINT.

Keepalives suit load balancers with 60 s idle timeouts: the gRPC server pings
idle connections every 30 s and accepts client pings every 10 s, HTTP keeps idle
connections 75 s, and subscriptions send heartbeats. On SIGTERM every open stream
is told at once and ends with a status carrying its resume position (SSE: a last
``stopping`` event whose id is that position), new calls are refused, HTTP and gRPC
stop together (unary calls get a grace period), then the log is closed cleanly
(every acknowledged record was written before its acknowledgement).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import uvicorn

from logway.app import App
from logway.broker import Broker
from logway.delivery.runner import DeliveryRunner
from logway.functions.runner import FunctionRunner
from logway.server import metrics
from logway.server.access import Access
from logway.server.fanout import Hub
from logway.server.grpc_service import LogService, add_log_service
from logway.server.grpc_web import GrpcWebBridge
from logway.server.http_app import build_app
from logway.server.kafka import KafkaListener
from logway.server.sessions import SESSION_TTL_S, Sessions
from logway.server.tls import TlsFiles, common_name
from logway.v1 import channel

log = logging.getLogger("logway.server")


def _servicer(factory: Callable[..., Any], broker: Broker, access: Access) -> Any:
    """An app's servicer: ``factory(broker)``, given ``access=`` too when it takes it."""
    try:
        takes_access = "access" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or other callable without a signature
        takes_access = False
    return factory(broker, access=access) if takes_access else factory(broker)


class Server:
    """The gRPC and HTTP servers of one broker, in the running event loop."""

    def __init__(
        self,
        broker: Broker,
        *,
        host: str = "127.0.0.1",
        grpc_port: int = 7070,
        http_port: int | None = 8080,
        grace: float = 5.0,
        app: App | None = None,
        stall_timeout: float = 30.0,
        kafka: dict[str, Any] | None = None,
        access: Access | None = None,
        tls: TlsFiles | None = None,
        session_ttl_s: float = SESSION_TTL_S,
    ):
        self.broker = broker
        self.session_ttl_s = session_ttl_s
        self.tls = tls
        self.access = access or Access(broker)
        self.host = host
        self.grpc_port = grpc_port
        self.http_port = http_port
        self.grace = grace
        self.app = app
        self.hub = Hub(broker)
        self.service = LogService(
            broker, hub=self.hub, stall_timeout=stall_timeout, access=self.access
        )
        self.stall_timeout = stall_timeout
        self.services: list[tuple[Callable[[Any, Any], None], Any]] = [
            (add_log_service, self.service)
        ]
        if app is not None:
            app.ensure_topics(broker)
            self.services += [
                (s.register, _servicer(s.factory, broker, self.access)) for s in app.services
            ]
        self.bridge = GrpcWebBridge()
        for register, servicer in self.services:
            self.bridge.add(register, servicer)
        self.kafka: KafkaListener | None = None
        if kafka is not None:
            self.kafka = KafkaListener(
                broker,
                host=host,
                access=self.access,
                tls=tls.server_context() if tls is not None else None,
                **kafka,
            )
        self._grpc: grpc.aio.Server | None = None
        self._http: uvicorn.Server | None = None
        self._http_task: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()
        self._functions_stop = asyncio.Event()
        self._functions: asyncio.Future[Any] | None = None
        self._access_task: asyncio.Task[None] | None = None
        self.runners: list[FunctionRunner] = []
        self.deliveries: list[DeliveryRunner] = []
        self.windows: list[Any] = []  # WindowRunner and SqlRunner (logway.windows)
        self.notifications: list[Any] = []  # NotifyRunner (logway.notify)
        self.schedules: list[Any] = []  # ScheduleRunner (logway.schedules.runner)
        if app is not None:
            self.runners = [FunctionRunner(broker, app.name, spec) for spec in app.functions]
            self.deliveries = [DeliveryRunner(broker, app.name, d) for d in app.deliveries]
            self.windows = [w.make_runner(broker, app.name) for w in app.windows]
            self.notifications = [n.make_runner(broker, app.name) for n in app.notifications]
            self.schedules = [s.make_runner(broker, app.name) for s in app.schedules]

    async def start(self) -> None:
        if self.access.enabled:
            self._access_task = asyncio.ensure_future(self.access.run())
        if self.tls is not None and self.tls.client_ca is not None:
            self.access.http_certificate = self._http_certificate
        running = [r.run(self._functions_stop) for r in self.runners]
        running += [d.run(self._functions_stop) for d in self.deliveries]
        running += [w.run(self._functions_stop) for w in self.windows]
        running += [n.run(self._functions_stop) for n in self.notifications]
        running += [s.run(self._functions_stop) for s in self.schedules]
        if running:
            self._functions = asyncio.gather(*running)
        self._grpc = grpc.aio.server(options=channel.SERVER_OPTIONS)
        for register, servicer in self.services:
            register(servicer, self._grpc)
        address = f"{self.host}:{self.grpc_port}"
        if self.tls is not None:
            self.grpc_port = self._grpc.add_secure_port(address, self.tls.grpc_credentials())
        else:
            self.grpc_port = self._grpc.add_insecure_port(address)
        await self._grpc.start()
        if self.kafka is not None:
            await self.kafka.start()
        if self.http_port is not None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.http_port))
            self.http_port = sock.getsockname()[1]
            config = uvicorn.Config(
                build_app(
                    self.broker,
                    self.bridge,
                    statics=self._statics(),
                    hub=self.hub,
                    stall_timeout=self.stall_timeout,
                    access=self.access,
                    sessions=Sessions(self.access, ttl_s=self.session_ttl_s),
                    drop_client=self._drop_http_client,
                    metrics=lambda: metrics.render(
                        self.broker,
                        self.runners,
                        self.deliveries,
                        self.windows,
                        schedules=self.schedules,
                        notifications=self.notifications,
                    ),
                    grpc_target=f"{self.host}:{self.grpc_port}",
                    kafka_target=(
                        f"{self.kafka.node.host}:{self.kafka.node.port}" if self.kafka else None
                    ),
                ),
                lifespan="off",
                log_level="warning",
                timeout_keep_alive=75,  # longer than a load balancer's 60 s idle timeout
                timeout_graceful_shutdown=max(1, round(self.grace)),
                **(self.tls.uvicorn_options() if self.tls is not None else {}),
            )
            self._http = uvicorn.Server(config)
            self._http_task = asyncio.ensure_future(self._http.serve(sockets=[sock]))
            while not self._http.started:  # uvicorn has no awaitable start-up
                if self._http_task.done():
                    self._http_task.result()
                    raise RuntimeError("the HTTP server stopped during start-up")
                await asyncio.sleep(0.01)

    def _http_certificate(self, client: Any) -> str:
        """The common name of the certificate an HTTPS client presented (verified by
        TLS against the client CA), or "" (uvicorn does not pass it to the app)."""
        if self._http is None or not client:
            return ""
        for protocol in list(self._http.server_state.connections):
            if getattr(protocol, "client", None) == tuple(client):
                transport = getattr(protocol, "transport", None)
                cert = transport.get_extra_info("peercert") if transport is not None else None
                return common_name(cert)
        return ""

    def _drop_http_client(self, client: Any) -> None:
        """Abort an HTTP client's connection, discarding what it has not read: closing
        would wait for a reader that stopped reading."""
        if self._http is None or not client:
            return
        for protocol in list(self._http.server_state.connections):
            if getattr(protocol, "client", None) == tuple(client):
                transport = getattr(protocol, "transport", None)
                if transport is not None:
                    transport.abort()

    def _statics(self) -> list[tuple[str, str]]:
        if self.app is None:
            return []
        base = getattr(self.app, "base_dir", ".")
        return [(path, os.path.join(base, directory)) for path, directory in self.app.statics]

    async def stop(self) -> None:
        """Tell every open stream at once (each ends with its resume position), then
        stop HTTP, gRPC and the app's functions and deliveries together."""
        self.service.stop()
        if self._access_task is not None:
            self._access_task.cancel()
        stopping: list[Awaitable[Any]] = []
        if self._functions is not None:  # finish the batches in flight, flush, commit
            self._functions_stop.set()
            stopping.append(self._functions)
        if self._http is not None and self._http_task is not None:
            self._http.should_exit = True
            stopping.append(self._http_task)
        if self._grpc is not None:
            stopping.append(self._grpc.stop(self.grace))
        if self.kafka is not None:
            stopping.append(self.kafka.stop())
        try:
            await asyncio.gather(*stopping)
        finally:
            self._stopped.set()

    async def wait(self) -> None:
        await self._stopped.wait()


async def serve(
    broker: Broker,
    *,
    host: str,
    grpc_port: int,
    http_port: int | None,
    ready: Callable[[Server], None] | None = None,
    app: App | None = None,
    stall_timeout: float = 30.0,
    kafka: dict[str, Any] | None = None,
    access: Access | None = None,
    tls: TlsFiles | None = None,
    session_ttl_s: float = SESSION_TTL_S,
) -> None:
    server = Server(
        broker,
        host=host,
        grpc_port=grpc_port,
        http_port=http_port,
        app=app,
        stall_timeout=stall_timeout,
        kafka=kafka,
        access=access,
        tls=tls,
        session_ttl_s=session_ttl_s,
    )
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
