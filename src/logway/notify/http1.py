"""A small HTTP/1.1 client for webhooks: POST with keep-alive connections, at most
``limit`` at once, responses parsed by httptools (uvicorn's C parser).

httpx's connection pool does work in proportion to its connections on every request:
with 50 connections it sent a third as many requests a second as with one. A webhook
target needs only POST to one origin, so its pool is a list of idle connections.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

import httptools

CONNECT_RETRIES = 1  # a kept-alive connection the server closed meanwhile: try a new one once


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # names in lower case; the last of repeated ones
    body: bytes

    @property
    def reason(self) -> str:
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return ""


class HttpError(Exception):
    """The connection failed or the answer was not HTTP; ``sent`` says whether any of
    the answer had come (else the request may never have reached the server)."""

    def __init__(self, message: str, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


class Connection(asyncio.Protocol):
    """One kept-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Response] | None = None
        self.closed = False
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []
        self.answered = False
        self.keep_alive = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(HttpError(f"not an HTTP answer: {exc}", answered=True))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(HttpError(f"connection closed: {exc or 'by the server'}", self.answered))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()
        response = Response(self.parser.get_status_code(), self.headers, b"".join(self.chunks))
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(response)

    def _fail(self, error: HttpError) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)

    async def request(self, data: bytes) -> Response:
        assert self.transport is not None
        self.headers, self.chunks, self.answered = {}, [], False
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        try:
            return await self.waiter
        finally:
            self.waiter = None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Pool:
    """Keep-alive connections to the origin of ``url``, at most ``limit`` in use."""

    def __init__(self, url: str, limit: int, timeout: float) -> None:
        parts = urlsplit(url)
        self.tls = parts.scheme.lower() == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.tls else 80)
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = parts.port is None or parts.port == (443 if self.tls else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.authority = host if default_port else f"{host}:{self.port}"
        self.timeout = timeout
        self.slots = asyncio.Semaphore(limit)
        self.idle: list[Connection] = []
        self.ssl: ssl.SSLContext | None = ssl.create_default_context() if self.tls else None

    async def _connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(
                Connection,
                self.host,
                self.port,
                ssl=self.ssl,
                server_hostname=self.host if self.tls else None,
            )
        except OSError as exc:
            raise HttpError(f"cannot connect to {self.authority}: {exc}") from None
        return conn

    def _encode(self, body: bytes, headers: dict[str, str]) -> bytes:
        lines = [f"POST {self.target} HTTP/1.1", f"Host: {self.authority}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def post(self, body: bytes, headers: dict[str, str]) -> Response:
        """POST ``body``; ``TimeoutError`` after ``timeout`` seconds, ``HttpError`` when
        the connection fails."""
        data = self._encode(body, headers)
        async with self.slots:
            async with asyncio.timeout(self.timeout):
                for retry in range(CONNECT_RETRIES + 1):
                    while self.idle and self.idle[-1].closed:
                        self.idle.pop()
                    reused = bool(self.idle)
                    conn = self.idle.pop() if reused else await self._connect()
                    try:
                        response = await conn.request(data)
                    except HttpError as exc:
                        conn.close()
                        if reused and not exc.answered and retry < CONNECT_RETRIES:
                            continue
                        raise
                    except BaseException:  # timed out or cancelled mid-answer: unusable
                        conn.close()
                        raise
                    if conn.keep_alive and not conn.closed:
                        self.idle.append(conn)
                    else:
                        conn.close()
                    return response
        raise AssertionError("unreachable")

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()
