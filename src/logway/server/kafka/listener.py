"""The Kafka listener: accepts connections, reads size-prefixed requests, answers
each connection's requests in order (Kafka's guarantee) and keeps other connections
going whatever one of them sends.

A request that cannot be answered at all (a malformed frame, an unknown API key or
version, a size over the limit) closes its connection, as Kafka does, logged once;
nothing stored changes. A connection that sends nothing for ``idle_timeout`` is
closed (Kafka's ``connections.max.idle.ms``).

With authentication on (``access.enabled``) a connection first signs in with SASL
(``sasl``) and every request is then checked against the ACLs (``permissions``); a
connection whose user is removed meanwhile is closed. With it off, none of that runs.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from kio.schema.errors import ErrorCode

from logway.broker import Broker
from logway.errors import AuthenticationError
from logway.server.access import Access, Identity
from logway.server.kafka import groups, permissions, sasl, versions, wire
from logway.server.kafka.door import Deferred, Door
from logway.server.kafka.fetch import handle_fetch, handle_list_offsets
from logway.server.kafka.metadata import handle_metadata
from logway.server.kafka.node import Node, cluster_id_for
from logway.server.kafka.produce import handle_init_producer_id, handle_produce
from logway.server.tls import common_name

log = logging.getLogger("logway.server.kafka")

DEFAULT_MAX_REQUEST_BYTES = 100 * 1024 * 1024  # Kafka's socket.request.max.bytes
DEFAULT_IDLE_TIMEOUT = 600.0  # Kafka's connections.max.idle.ms
PIPELINED = 64  # responses a connection may have waiting before it stops reading

Handler = Callable[[Door, int, Any], Awaitable[Any]]


async def _api_versions(door: Door, version: int, request: Any) -> Any:
    return versions.api_versions(version)


class _IdleWatch:
    """Closes a connection that sends nothing for ``timeout`` s: one timer a
    connection, looked at when it fires, not one per request."""

    def __init__(self, writer: asyncio.StreamWriter, timeout: float):
        self.writer, self.timeout = writer, timeout
        self.loop = asyncio.get_running_loop()
        self.last = self.loop.time()
        self.timer = self.loop.call_later(timeout, self._check)

    def active(self) -> None:
        self.last = self.loop.time()

    def _check(self) -> None:
        quiet = self.loop.time() - self.last
        if quiet >= self.timeout:
            self.writer.transport.abort()
        else:
            self.timer = self.loop.call_later(self.timeout - quiet, self._check)

    def cancel(self) -> None:
        self.timer.cancel()


def handlers() -> dict[int, Handler]:
    from logway.server.kafka import admin

    table: dict[int, Handler] = {
        0: handle_produce,
        1: handle_fetch,
        2: handle_list_offsets,
        3: handle_metadata,
        18: _api_versions,
        22: handle_init_producer_id,
    }
    table.update(getattr(groups, "HANDLERS", {}))
    table.update(getattr(admin, "HANDLERS", {}))
    table.update(sasl.HANDLERS)
    return table


class KafkaListener:
    def __init__(
        self,
        broker: Broker,
        *,
        host: str = "127.0.0.1",
        port: int = 9092,
        advertised: str | None = None,
        identity: str = "logway",
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        auto_create_topics: bool = False,
        access: Access | None = None,
        tls: ssl.SSLContext | None = None,
    ):
        self.access = access or Access(broker)
        self.ssl_context = tls  # clients use security.protocol SSL or SASL_SSL
        self.tls = tls is not None  # PLAIN (the password itself) is offered only then
        self.host = host
        self.port = port
        self.advertised = advertised
        self.max_request_bytes = max_request_bytes
        self.idle_timeout = idle_timeout
        self.node = Node(host, port, cluster_id_for(identity))
        self.door = Door(
            broker, self.node, auto_create_topics=auto_create_topics, access=self.access
        )
        self.handlers = handlers()
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connection,
            self.host,
            self.port,
            reuse_address=True,
            backlog=1024,
            ssl=self.ssl_context,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        host, port = self.host, self.port
        if self.advertised:
            host, _, text = self.advertised.rpartition(":")
            port = int(text)
        self.node.host, self.node.port = host, port

    async def stop(self) -> None:
        """Stop accepting, end long polls, close every connection."""
        self.door.stopping.set()
        if self._server is not None:
            self._server.close()
        for writer in list(self._connections):
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read requests and answer them in order. A request is handled to the point
        where the next one may begin (a produce: once appended); a response that waits
        for more (its fsync) is written when ready, still in order, by ``_respond``."""
        self._connections.add(writer)
        peer = writer.get_extra_info("peername")
        answers: asyncio.Queue[bytes | Deferred | None] = asyncio.Queue(PIPELINED)
        responding = asyncio.ensure_future(self._respond(answers, writer))
        idle = _IdleWatch(writer, self.idle_timeout)
        release = None
        try:
            if self.access.enabled:
                cert = self.access.certificate_identity(
                    common_name(writer.get_extra_info("peercert"))
                )
                signed_in = await self._sign_in(reader, answers, idle, peer, cert)
                if signed_in is None:
                    return
                who, first = signed_in
                release = self.access.hold(who, [], lambda exc: self._cut(writer, peer, exc))
                if first is not None:  # an anonymous caller's first request
                    answer = await self._answer(first, peer)
                    if answer is False:
                        return
                    if isinstance(answer, bytes | Deferred):
                        await answers.put(answer)
            while not responding.done():
                head = await reader.readexactly(4)
                idle.active()
                size = int.from_bytes(head, "big", signed=True)
                if size < 0 or size > self.max_request_bytes:
                    log.warning(
                        "closing the Kafka connection from %s: a request of %d bytes "
                        "(the limit is %d, --kafka-max-request-bytes)",
                        peer,
                        size,
                        self.max_request_bytes,
                    )
                    return
                frame = await reader.readexactly(size)
                answer = await self._answer(frame, peer)
                if answer is False:
                    return
                if isinstance(answer, bytes | Deferred):
                    await answers.put(answer)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return
        except asyncio.CancelledError:
            raise
        except AuthenticationError as exc:  # the caller's credentials no longer stand
            log.warning("closing the Kafka connection from %s: %s", peer, exc)
        except Exception:
            log.exception("closing the Kafka connection from %s after an error", peer)
        finally:
            if release is not None:
                release()
            idle.cancel()
            if not responding.done():
                try:
                    answers.put_nowait(None)  # what was asked before is still answered
                except asyncio.QueueFull:
                    responding.cancel()
            try:
                await responding
            except (asyncio.CancelledError, ConnectionError):
                pass
            self._connections.discard(writer)
            writer.close()

    async def _sign_in(
        self,
        reader: asyncio.StreamReader,
        answers: asyncio.Queue[bytes | Deferred | None],
        idle: _IdleWatch,
        peer: Any,
        certificate: Identity | None = None,
    ) -> tuple[Identity, bytes | None] | None:
        """The SASL exchange that opens a connection when authentication is on: the
        caller, and a first request to serve (an anonymous caller's), or None to close
        (once what was answered is written)."""
        address = peer[0] if isinstance(peer, tuple) and peer else str(peer)
        offered = sasl.mechanisms(self.tls)
        authenticator = sasl.Authenticator(self.access, offered, peer, address, certificate)
        while True:
            head = await reader.readexactly(4)
            idle.active()
            size = int.from_bytes(head, "big", signed=True)
            if size < 0 or size > sasl.MAX_RECEIVE:
                log.warning(
                    "closing the Kafka connection from %s: a request of %d bytes before "
                    "authentication (the limit then is %d)",
                    peer,
                    size,
                    sasl.MAX_RECEIVE,
                )
                return None
            frame = await reader.readexactly(size)
            step = await authenticator.receive(frame)
            if step.reply is not None:
                await answers.put(step.reply)
            if step.close:
                return None
            who = authenticator.who
            if who is not None:
                # the connection's own task: every request it serves sees this caller
                permissions.CALLER.set(permissions.Caller(who, address))
                return who, frame if step.passed else None

    def _cut(self, writer: asyncio.StreamWriter, peer: Any, error: Exception) -> None:
        """The caller's user was removed (or the like): end its connection now."""
        log.warning("closing the Kafka connection from %s: %s", peer, error)
        writer.transport.abort()

    async def _respond(
        self, answers: asyncio.Queue[bytes | Deferred | None], writer: asyncio.StreamWriter
    ) -> None:
        pending: Deferred | None = None
        try:
            while (answer := await answers.get()) is not None:
                if isinstance(answer, Deferred):
                    pending = answer
                    answer = wire.encode_response(answer.correlation_id, await answer.task)
                    pending = None
                writer.write(answer)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            if pending is not None:
                pending.task.cancel()
            while not answers.empty():  # never written: stop what they wait for
                left = answers.get_nowait()
                if isinstance(left, Deferred):
                    left.task.cancel()

    async def _answer(self, frame: bytes, peer: Any) -> bytes | Deferred | bool | None:
        """The response frame (or one to come), None for no response (acks=0), False
        to close."""
        try:
            api_key, version, correlation_id = wire.peek_header(frame)
        except wire.FrameError as exc:
            log.warning("closing the Kafka connection from %s: %s", peer, exc)
            return False
        if api_key == wire.API_VERSIONS and not versions.served(api_key, version):
            # answered in v0's body so the client can pick a version both speak
            return wire.encode_response(
                correlation_id, versions.api_versions(0, ErrorCode.unsupported_version)
            )
        handler = self.handlers.get(api_key)
        if handler is None or not versions.served(api_key, version):
            name = versions.NAMES.get(api_key, f"API key {api_key}")
            log.warning(
                "closing the Kafka connection from %s: it asked for %s version %d, which "
                "logway does not serve",
                peer,
                name,
                version,
            )
            return False
        cls = wire.request_type(api_key, version)
        assert cls is not None
        try:
            header = wire.read_header(frame, bool(cls.__flexible__))
            request = wire.parse(cls, frame, header.body)
        except wire.FrameError as exc:
            log.warning("closing the Kafka connection from %s: %s", peer, exc)
            return False
        host = peer[0] if isinstance(peer, tuple) and peer else str(peer)
        groups.CLIENT.set((header.client_id or "", f"/{host}"))  # for DescribeGroups
        response = await handler(self.door, version, request)
        if response is None:
            return None
        if isinstance(response, Deferred):
            response.correlation_id = correlation_id
            return response
        return wire.encode_response(correlation_id, response)
