"""gRPC-Web on the HTTP port, so browsers need no proxy.

Follows the gRPC-Web protocol (PROTOCOL-WEB.md in grpc/grpc): a POST to
``/<package.Service>/<Method>`` whose body is gRPC frames (1 flag byte, 4-byte
big-endian length, message), base64-encoded in the ``-text`` content types. The
response is data frames then one trailer frame (flag 0x80) carrying
``grpc-status`` and ``grpc-message``; errors before any message are sent
"trailers-only", in the HTTP headers. Calls go to the same servicer objects the
gRPC server uses, through a small stand-in for ``grpc.aio.ServicerContext``.

A call's ``authorization`` header reaches the servicer as metadata, as over gRPC. A
browser's session cookie is turned into the caller by the ``identify`` hook the HTTP
app sets (see ``logway.server.sessions``), before the request body is read; the
servicer finds it in ``context.identity``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import struct
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from logway import errors
from logway.v1.status import ERROR_KEY, code_for

FRAME = struct.Struct(">BI")
TRAILER_FLAG = 0x80
FAIL_FAST_S = 0.05  # how long a stream may take to fail before its headers are sent
COMPRESSED_FLAG = 0x01
BINARY_TYPES = ("application/grpc-web", "application/grpc-web+proto")
TEXT_TYPES = ("application/grpc-web-text", "application/grpc-web-text+proto")
CORS_HEADERS = {
    "access-control-allow-origin": "*",
    "access-control-expose-headers": "grpc-status, grpc-message, grpc-status-details-bin",
}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "access-control-allow-methods": "POST, OPTIONS",
    "access-control-allow-headers": (
        "content-type, x-grpc-web, x-user-agent, grpc-timeout, authorization, "
        "connect-protocol-version, connect-timeout-ms"
    ),
    "access-control-max-age": "86400",
}


class Abort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(details)
        self.code = code
        self.details = details


class WebContext:
    """What the servicers use of ``grpc.aio.ServicerContext``, for one gRPC-Web call."""

    door = "grpc-web"  # for permission checks and the audit trail

    def __init__(self, peer: str, metadata: list[tuple[str, str]], identity: Any = None):
        self._peer = peer
        self._metadata = metadata
        self.identity = identity  # the caller a session cookie proved (None: see metadata)
        self.trailing: list[tuple[str, str]] = []
        self.outbox: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)  # one message in flight

    async def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        raise Abort(code, details)

    def set_trailing_metadata(self, metadata: Any) -> None:
        self.trailing = [(str(k), str(v)) for k, v in metadata]

    async def send_initial_metadata(self, metadata: Any) -> None:
        pass  # gRPC-Web sends its headers with the response

    async def write(self, message: Any) -> None:
        await self.outbox.put(message)

    def peer(self) -> str:
        return self._peer

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return self._metadata


class HandlerCapture:
    """Stands in for a server to receive what a generated ``add_XServicer_to_server``
    registers: the method handlers, by path and by service."""

    def __init__(self) -> None:
        self.methods: dict[str, Any] = {}
        self.services: dict[str, dict[str, Any]] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.services[service] = dict(handlers)
        for name, handler in handlers.items():
            self.methods[f"/{service}/{name}"] = handler


def frame(message: bytes, flag: int = 0) -> bytes:
    return FRAME.pack(flag, len(message)) + message


def trailer(code: grpc.StatusCode, details: str, extra: list[tuple[str, str]]) -> bytes:
    lines = [f"grpc-status:{code.value[0]}", f"grpc-message:{_pct(details)}"]
    lines += [f"{k}:{v}" for k, v in extra]
    return frame(("\r\n".join(lines) + "\r\n").encode(), TRAILER_FLAG)


def _pct(text: str) -> str:
    return urllib.parse.quote(text, safe=" !\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~")


class GrpcWebBridge:
    """Serves registered gRPC services over gRPC-Web."""

    def __init__(self, max_request_bytes: int = 4 << 20, stall_timeout: float = 30.0):
        self.methods: dict[str, Any] = {}
        self.max_request_bytes = max_request_bytes
        self.stall_timeout = stall_timeout
        # who a request's cookie stands for (None: no cookie); raises a LogwayError to refuse
        self.identify: Callable[[Request], Awaitable[Any]] | None = None

    def add(self, register: Callable[[Any, Any], None], servicer: Any) -> None:
        """``bridge.add(add_LogServicer_to_server, servicer)``, as with a grpc server."""
        capture = HandlerCapture()
        register(servicer, capture)
        self.methods.update(capture.methods)

    async def __call__(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=PREFLIGHT_HEADERS)
        handler = self.methods.get(request.url.path)
        if handler is None:
            return PlainTextResponse("no such gRPC method", status_code=404, headers=CORS_HEADERS)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in BINARY_TYPES + TEXT_TYPES:
            return PlainTextResponse(
                f"gRPC-Web needs content-type {BINARY_TYPES[0]} or {TEXT_TYPES[0]}, "
                f"not {kind or 'none'!r}",
                status_code=415,
                headers=CORS_HEADERS,
            )
        text = kind in TEXT_TYPES
        response_type = TEXT_TYPES[1] if text else BINARY_TYPES[1]
        identity = None
        if self.identify is not None:
            try:
                identity = await self.identify(request)
            except errors.LogwayError as exc:
                trailers = [(ERROR_KEY, type(exc).__name__)]
                return self._trailers_only(code_for(exc), str(exc), response_type, trailers)
        try:
            message = await self._read_request(request, text, handler)
        except Abort as exc:
            return self._trailers_only(exc.code, exc.details, response_type, [])
        peer = f"grpc-web:{request.client.host if request.client else 'unknown'}"
        metadata = [(k, v) for k, v in request.headers.items()]
        context = WebContext(peer, metadata, identity)
        if handler.response_streaming:
            return await self._stream(handler, message, context, response_type, text)
        try:
            reply = await handler.unary_unary(message, context)
        except Abort as exc:
            return self._trailers_only(exc.code, exc.details, response_type, context.trailing)
        body = frame(handler.response_serializer(reply)) + trailer(
            grpc.StatusCode.OK, "", context.trailing
        )
        return Response(_encode(body, text), media_type=response_type, headers=CORS_HEADERS)

    async def _read_request(self, request: Request, text: bool, handler: Any) -> Any:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.max_request_bytes * (2 if text else 1):
                raise Abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"request larger than {self.max_request_bytes} bytes",
                )
        raw = bytes(body)
        if text:
            try:
                raw = base64.b64decode(b"".join(raw.split()), validate=True)
            except (binascii.Error, ValueError):
                raise Abort(
                    grpc.StatusCode.INVALID_ARGUMENT, "request body is not valid base64"
                ) from None
        if len(raw) < FRAME.size:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "request is not a gRPC-Web frame")
        flag, length = FRAME.unpack_from(raw)
        if flag & TRAILER_FLAG or len(raw) != FRAME.size + length:
            raise Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "malformed gRPC-Web frame: expected one data frame holding the whole message",
            )
        if flag & COMPRESSED_FLAG:
            raise Abort(
                grpc.StatusCode.UNIMPLEMENTED, "compressed gRPC-Web messages are not supported"
            )
        try:
            return handler.request_deserializer(raw[FRAME.size :])
        except Exception:
            # gRPC's status-code guide: a request that does not parse is INTERNAL
            raise Abort(grpc.StatusCode.INTERNAL, "the request message does not parse") from None

    def _trailers_only(
        self, code: grpc.StatusCode, details: str, response_type: str, extra: list[tuple[str, str]]
    ) -> Response:
        headers = {**CORS_HEADERS, "grpc-status": str(code.value[0]), "grpc-message": _pct(details)}
        headers.update(dict(extra))
        return Response(b"", media_type=response_type, headers=headers)

    async def _stream(
        self, handler: Any, message: Any, context: WebContext, response_type: str, text: bool
    ) -> Response:
        call = asyncio.ensure_future(handler.unary_stream(message, context))
        # A call that fails at once is answered "trailers-only"; otherwise the headers
        # go out now, so the client sees the stream open even before its first message.
        await asyncio.wait({call}, timeout=FAIL_FAST_S)
        if call.done() and call.exception() is not None and context.outbox.empty():
            code, details = _status_of(call.exception())
            return self._trailers_only(code, details, response_type, context.trailing)

        async def body() -> AsyncIterator[bytes]:
            try:
                while True:
                    item = await _next_message(call, context)
                    if item is _DONE:
                        yield _encode(trailer(grpc.StatusCode.OK, "", context.trailing), text)
                        return
                    if isinstance(item, BaseException):
                        code, details = _status_of(item)
                        yield _encode(trailer(code, details, context.trailing), text)
                        return
                    yield _encode(frame(handler.response_serializer(item)), text)
            finally:
                if not call.done():
                    call.cancel()
                    # wait for the servicer to finish its own clean-up; asyncio.wait never
                    # raises the call's outcome, and our own cancellation still propagates
                    await asyncio.wait({call})
                if not call.cancelled():
                    call.exception()  # retrieved: an ended call logs no "never retrieved"

        return StreamingResponse(body(), media_type=response_type, headers=CORS_HEADERS)


_DONE = object()


async def _next_message(call: asyncio.Future[Any], context: WebContext) -> Any:
    """The next message the servicer writes, ``_DONE`` when it returns, or its error."""
    if not context.outbox.empty():
        return context.outbox.get_nowait()
    get = asyncio.ensure_future(context.outbox.get())
    try:
        done, _ = await asyncio.wait({get, call}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not get.done():
            get.cancel()
    if get in done:
        return get.result()
    if not context.outbox.empty():
        return context.outbox.get_nowait()
    if call.cancelled():
        return _DONE
    exc = call.exception()
    return _DONE if exc is None else exc


def _status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    if isinstance(exc, Abort):
        return exc.code, exc.details
    return grpc.StatusCode.INTERNAL, f"server error: {type(exc).__name__}"


def _encode(data: bytes, text: bool) -> bytes:
    return base64.b64encode(data) if text else data
