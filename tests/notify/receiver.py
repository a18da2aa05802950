"""A real HTTP server for notification tests, misbehaving on purpose: each request is
answered by a ``script(request, n)`` (``n``: how many times this idempotency key came)."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it came
    status: int = 0  # what it was answered


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0  # seconds to wait before answering


Script = Callable[[Request, int], Answer]


class Receiver:
    """``ThreadingHTTPServer`` on 127.0.0.1 in a thread, recording what it gets."""

    def __init__(self, script: Script | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.script: Script = script or (lambda request, n: Answer())
        self.requests: list[Request] = []
        self.seen: dict[str, int] = {}
        self.active = 0
        self.most_active = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = Request(self.path, dict(self.headers.items()), body, time.monotonic())
                key = request.headers.get("Idempotency-Key", "")
                with receiver.lock:
                    receiver.seen[key] = n = receiver.seen.get(key, 0) + 1
                    receiver.active += 1
                    receiver.most_active = max(receiver.most_active, receiver.active)
                try:
                    answer = receiver.script(request, n)
                    if answer.delay:
                        time.sleep(answer.delay)
                    request.status = answer.status
                    with receiver.lock:
                        receiver.requests.append(request)
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    if "Transfer-Encoding" not in answer.headers:
                        self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                finally:
                    with receiver.lock:
                        receiver.active -= 1

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # socketserver's 5 drops connections opened at once

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def delivered(self) -> list[Request]:
        """The requests answered 2xx, in the order they were answered."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]


async def until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Wait until ``condition()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.01)
