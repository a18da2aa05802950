"""One data directory, many processes (``file:PATH``).

The first process to open a directory owns it (``logway.log.lock``) and runs the
embedded log. It also serves the gRPC ``logway.v1.Log`` service on a Unix socket —
``<data>/.logway.sock``, or one in the temporary directory when that path is too long
for a socket — and names the socket in the lock file. A process that opens the
directory while another owns it connects to that socket instead of failing: the
remote backend, with the same API, errors and semantics as ``logway://``.

When the owner dies the kernel drops its lock, and the next process to open the
directory takes it over (recovery runs as on any open). A process that was talking
to the dead owner waits up to ``reconnect_timeout`` seconds for a new owner and goes
on with it (a call in flight when the owner died is sent again: at least once), or
raises ``OwnerGoneError``; it never hangs.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import threading
import time
from typing import Any

import grpc

from logway.backends.embedded import EmbeddedBroker, url_path
from logway.backends.embedded import open_url as open_embedded
from logway.backends.remote import RemoteBroker, raise_rpc_error
from logway.errors import DataDirLockedError, InvalidArgumentError, LogwayError
from logway.log.lock import read_owner
from logway.v1 import channel, log_pb2_grpc
from logway.v1.status import ERROR_KEY

SOCKET_NAME = ".logway.sock"
MAX_SOCKET_PATH = 100  # sockaddr_un holds 108 bytes with the terminating NUL
RECONNECT_TIMEOUT_S = 10.0
WAIT_STEP_S = 0.02


class OwnerGoneError(LogwayError):
    """The process that owned the data directory stopped and no other took it over."""


def socket_path(directory: str) -> str:
    """Where the owner of ``directory`` listens: in it, unless that path is too long."""
    path = os.path.join(os.path.abspath(directory), SOCKET_NAME)
    if len(path.encode()) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.path.realpath(directory).encode()).hexdigest()[:20]
    return os.path.join(tempfile.gettempdir(), f"logway-{digest}.sock")


def open_url(url: str, *, share: bool = True, **options: Any) -> EmbeddedBroker | RemoteBroker:
    """Own the directory ``url`` names and serve it to other processes (unless
    ``share=False``), or connect to the process that owns it."""
    directory = url_path(url)
    path = socket_path(directory) if share and directory else ""
    try:
        broker = open_embedded(url, serve_at=f"unix:{path}" if path else "", **options)
    except DataDirLockedError as locked:
        if not locked.address:  # an owner that does not share it
            raise
        if options:
            raise InvalidArgumentError(
                f"{url} is owned by process {locked.owner}, which sets its topic defaults; "
                f"options ({', '.join(options)}) apply only to the process that owns it"
            ) from None
        return DirectoryClient(directory, locked.address, url=url)
    if path:
        try:
            broker.on_close(Door(broker, path).close)
        except BaseException:
            broker.close()
            raise
    return broker


class Door:
    """The gRPC ``Log`` service of an owned directory, on a Unix socket, in a thread
    with its own event loop."""

    def __init__(self, broker: EmbeddedBroker, path: str):
        from logway.server.grpc_service import LogService

        self.path = path
        self.service = LogService(broker)
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(started,), daemon=True, name=f"logway-door {path}"
        )
        self._thread.start()
        started.wait()
        if self._failure is not None:
            raise LogwayError(f"cannot serve {broker.path} on {path}: {self._failure}")

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve(started))
        except BaseException as exc:  # start-up failed: the opening thread raises it
            self._failure = exc
            started.set()
        finally:
            self._loop.close()

    async def _serve(self, started: threading.Event) -> None:
        from logway.server.grpc_service import add_log_service

        self._stop = asyncio.Event()
        server = grpc.aio.server(options=channel.SERVER_OPTIONS)
        add_log_service(self.service, server)
        if os.path.exists(self.path):  # a dead owner's: this process holds the lock now
            os.unlink(self.path)
        server.add_insecure_port(f"unix:{self.path}")
        await server.start()
        started.set()
        await self._stop.wait()
        self.service.stop()  # open streams end now, with where to resume
        await server.stop(1.0)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        if self._thread.is_alive() and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()


class DirectoryClient(RemoteBroker):
    """The remote backend over the owner's socket, following the directory's owner."""

    def __init__(
        self,
        directory: str,
        address: str,
        *,
        url: str,
        reconnect_timeout: float = RECONNECT_TIMEOUT_S,
    ):
        super().__init__(address, url=url)
        self.directory = directory
        self.reconnect_timeout = reconnect_timeout
        self._connect_lock = threading.Lock()
        self._stale: list[grpc.Channel] = []

    def call(self, method: str, request: Any) -> Any:
        """As the remote backend's, but a lost owner is followed to the next one."""
        deadline = time.monotonic() + self.reconnect_timeout
        while True:
            self._check_open()
            stub = self.stub
            try:
                return getattr(stub, method)(request, timeout=self.timeout, metadata=self.metadata)
            except grpc.RpcError as exc:
                if not _owner_lost(exc):
                    raise_rpc_error(exc)
                    raise
            self.reconnect(stub, deadline)

    def recover(self, failure: BaseException, stub: Any) -> bool:
        """A consumer's stream (opened on ``stub``) ended because the owner was lost:
        follow the directory to its next owner."""
        if not isinstance(failure, grpc.RpcError) or not _owner_lost(failure):
            return False
        self.reconnect(stub, time.monotonic() + self.reconnect_timeout)
        return True

    def reconnect(self, stale: Any, deadline: float) -> None:
        """Connect to whichever process owns the directory now, waiting until
        ``deadline`` for one; ``stale`` is the stub that failed (another thread may have
        reconnected already)."""
        with self._connect_lock:
            if self.stub is not stale:
                return
            while True:
                time.sleep(WAIT_STEP_S)  # a new owner may still be starting its door
                self._check_open()
                pid, address = read_owner(self.directory)
                if address and _alive(pid) and os.path.exists(address.removeprefix("unix:")):
                    # the old channel closes with the broker: closing it now would
                    # cancel streams that have yet to see the owner's loss
                    self._stale.append(self._channel)
                    self._channel = grpc.insecure_channel(address, options=channel.OPTIONS)
                    self.stub = log_pb2_grpc.LogStub(self._channel)
                    self.target = address
                    return
                if time.monotonic() >= deadline:
                    raise OwnerGoneError(
                        f"the process that owned data directory {self.directory} stopped and "
                        f"none took it over within {self.reconnect_timeout:g}s; open the "
                        "directory again (logway.connect) to own it"
                    )
                time.sleep(WAIT_STEP_S * 4)

    def close(self) -> None:
        super().close()
        for stale in self._stale:
            stale.close()

    def __repr__(self) -> str:
        return f"DirectoryClient({self.url!r} via {self.target})"


def _owner_lost(exc: BaseException) -> bool:
    """A connection that failed, or an owner that is closing (not another error the
    owner answered with)."""
    call: Any = exc
    if call.code() != grpc.StatusCode.UNAVAILABLE:
        return False
    names = [str(v) for k, v in call.trailing_metadata() or () if k == ERROR_KEY]
    return not names or names[0] in ("ServerStoppingError", "ClosedError")


def _alive(pid: str) -> bool:
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
