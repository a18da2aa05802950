"""A minimal gRPC-Web client for tests, written from the protocol text
(PROTOCOL-WEB.md): frames are flag byte + 4-byte length + message."""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field

import httpx


def frame(message: bytes, flag: int = 0) -> bytes:
    return struct.pack(">BI", flag, len(message)) + message


@dataclass
class Reply:
    http_status: int
    messages: list[bytes] = field(default_factory=list)
    status: int | None = None
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def parse(body: bytes, headers: httpx.Headers, status: int, text: bool) -> Reply:
    reply = Reply(status, headers=dict(headers))
    if "grpc-status" in headers:  # trailers-only
        reply.status = int(headers["grpc-status"])
        reply.message = headers.get("grpc-message", "")
    data = base64.b64decode(body) if text and body else body
    if text and body:  # each frame is base64-encoded on its own: decode piecewise
        data, rest = b"", body
        while rest:
            cut = rest.find(b"=")
            end = len(rest) if cut < 0 else cut
            while end < len(rest) and rest[end : end + 1] == b"=":
                end += 1
            data += base64.b64decode(rest[:end])
            rest = rest[end:]
    pos = 0
    while pos < len(data):
        flag, length = struct.unpack_from(">BI", data, pos)
        payload = data[pos + 5 : pos + 5 + length]
        pos += 5 + length
        if flag & 0x80:
            for line in payload.decode().split("\r\n"):
                if line.startswith("grpc-status:"):
                    reply.status = int(line.split(":", 1)[1])
                elif line.startswith("grpc-message:"):
                    reply.message = line.split(":", 1)[1]
        else:
            reply.messages.append(payload)
    return reply


def call(
    base: str,
    method: str,
    request: bytes,
    text: bool = False,
    timeout: float = 30,
    raw_body: bytes | None = None,
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    kind = "application/grpc-web-text" if text else "application/grpc-web+proto"
    body = frame(request)
    if text:
        body = base64.b64encode(body)
    response = httpx.post(
        f"{base}/{method}",
        content=body if raw_body is None else raw_body,
        timeout=timeout,
        headers={"content-type": content_type or kind, "x-grpc-web": "1", **(headers or {})},
    )
    return parse(response.content, response.headers, response.status_code, text)


def stream(base: str, method: str, request: bytes, until: int, text: bool = False) -> Reply:
    """Read a server stream until ``until`` messages arrived, then hang up."""
    kind = "application/grpc-web-text" if text else "application/grpc-web+proto"
    body = frame(request)
    if text:
        body = base64.b64encode(body)
    buffer = b""
    with httpx.stream(
        "POST", f"{base}/{method}", content=body, timeout=30, headers={"content-type": kind}
    ) as response:
        for chunk in response.iter_bytes():
            buffer += chunk
            reply = parse(buffer, response.headers, response.status_code, text)
            if len(reply.messages) >= until or reply.status is not None:
                return reply
    return parse(buffer, response.headers, response.status_code, text)
