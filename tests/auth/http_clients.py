"""Small HTTP clients for the auth tests: an httpx client bound to its own loopback
address (the server slows failed sign-ins per address, so each test keeps its own),
a Server-Sent Events reader, and a gRPC-Web call that sends chosen headers."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from tests.server import grpc_web_client as web

_hosts = itertools.count(10)


def client(base: str, headers: dict[str, str] | None = None) -> httpx.Client:
    """A client whose connections come from a loopback address no other test used."""
    host = next(_hosts)
    assert host < 255, "out of loopback addresses: fewer tests per module"
    transport = httpx.HTTPTransport(local_address=f"127.0.0.{host}")
    return httpx.Client(base_url=base, transport=transport, timeout=30, headers=headers)


@dataclass
class Event:
    event: str
    data: dict
    id: str | None


def events(response: httpx.Response) -> Iterator[Event]:
    """The events of an open ``text/event-stream`` response, as they arrive."""
    kind, data, ident = "message", "", None
    for line in response.iter_lines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line.startswith("id: "):
            ident = line[4:]
        elif line == "" and data:
            yield Event(kind, json.loads(data), ident)
            kind, data, ident = "message", "", None


def grpc_web(http: httpx.Client, method: str, request: bytes, **headers: str) -> web.Reply:
    """One unary gRPC-Web call (binary), with ``headers`` added."""
    response = http.post(
        f"/{method}",
        content=web.frame(request),
        headers={"content-type": "application/grpc-web+proto", "x-grpc-web": "1", **headers},
    )
    return web.parse(response.content, response.headers, response.status_code, False)
