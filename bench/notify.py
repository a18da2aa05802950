"""Notification throughput: webhook notifications of a topic's records to a local HTTP
server, 50 in flight, against the *HTTP client floor*: the same number of POSTs of the
same bodies sent by the notification's own HTTP/1.1 pool alone (50 tasks), to the same
server. For a peer, httpx alone (one ``AsyncClient``, 50 tasks) on fewer records.

The server runs in a process of its own (a small asyncio HTTP/1.1 server with
keep-alive that answers 204), so it does not share the GIL with the sender. The
notification runs as ``logway run`` would: consumer group, idempotency keys, signing
(with ``secret``), the commit of settled offsets; no rate limit.

    python bench/notify.py [records]
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import socket
import sys
import time
from dataclasses import dataclass

import httpx

import logway
from common import Throughput
from logway.notify.http1 import Pool
from logway.notify.runner import NotifySpec
from logway.notify.settings import NotifySettings

TARGET_PER_S = 2_000
HTTPX_RECORDS = 5_000  # httpx alone is slow: the peer runs on fewer records


async def _serve(sock: socket.socket) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, sock=sock)
    async with server:
        await server.serve_forever()


def _server_main(sock: socket.socket) -> None:
    asyncio.run(_serve(sock))


def start_server() -> tuple[str, multiprocessing.process.BaseProcess]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    process = multiprocessing.get_context("fork").Process(
        target=_server_main, args=(sock,), daemon=True
    )
    process.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    sock.close()
    return url, process


def _bodies(records: int) -> list[bytes]:
    return [
        json.dumps(
            {"id": i, "status": "paid", "total": i * 1.25, "customer": f"c{i % 97}"}
        ).encode()
        for i in range(records)
    ]


async def _pool_floor(url: str, bodies: list[bytes], in_flight: int) -> float:
    """Seconds for the notification's HTTP/1.1 pool alone to POST every body."""
    pool = Pool(url, in_flight, timeout=10.0)
    queue = iter(bodies)

    async def worker() -> None:
        for body in queue:
            response = await pool.post(body, {"Content-Type": "application/json"})
            assert response.status == 204

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    seconds = time.perf_counter() - start
    pool.close()
    return seconds


async def _httpx_floor(url: str, bodies: list[bytes], in_flight: int) -> float:
    """Seconds for httpx alone to POST every body, ``in_flight`` at once."""
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(limits=limits) as client:
        queue = iter(bodies)

        async def worker() -> None:
            for body in queue:
                response = await client.post(
                    url, content=body, headers={"Content-Type": "application/json"}
                )
                assert response.status_code == 204

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return time.perf_counter() - start


async def _notify(url: str, bodies: list[bytes], in_flight: int, secret: str | None) -> float:
    """Seconds for a notification to deliver every record of a topic holding ``bodies``."""
    with logway.connect("memory:") as broker:
        broker.create_topic("orders", 1)
        broker.produce_many("orders", bodies)
        settings = NotifySettings.build(
            "orders",
            to=url,
            secret=secret,
            in_flight=in_flight,
            rate=None,
            starting_position="earliest",
        )
        runner = NotifySpec("bench", "orders", settings).make_runner(broker, "bench")
        stopping = asyncio.Event()
        start = time.perf_counter()
        task = asyncio.ensure_future(runner.run(stopping))
        while runner.stats.delivered < len(bodies):
            if task.done():
                task.result()
                raise RuntimeError("the notification stopped early")
            await asyncio.sleep(0.005)
        seconds = time.perf_counter() - start
        stopping.set()
        await task
        if runner.stats.failed or runner.stats.delivered != len(bodies):
            raise RuntimeError(f"delivered {runner.stats.delivered}, failed {runner.stats.failed}")
        return seconds


@dataclass(frozen=True)
class NotifyFigures:
    """Records a second delivered by a webhook notification, by its HTTP client alone
    (the floor) and by httpx alone (on at most ``HTTPX_RECORDS`` of the records)."""

    in_flight: int
    signed: bool
    notify: Throughput
    client: Throughput
    httpx: Throughput

    @property
    def ratio(self) -> float:
        """The notification's rate / its HTTP client's alone."""
        return self.notify.records_per_s / self.client.records_per_s

    def to_json(self) -> dict[str, object]:
        return {
            "in_flight": self.in_flight,
            "signed": self.signed,
            "notify": self.notify.to_json(),
            "client_floor": self.client.to_json(),
            "httpx": self.httpx.to_json(),
            "ratio": round(self.ratio, 3),
        }


def measure_notify(
    records: int = 20_000, in_flight: int = 50, secret: str | None = "whsec-bench", reps: int = 1
) -> NotifyFigures:
    """The notification and its HTTP client alone, interleaved, best of ``reps``; httpx
    once. Each notification run is a fresh ``memory:`` broker and consumer group."""
    url, server = start_server()
    try:
        bodies = _bodies(records)
        floor_runs, notify_runs = [], []
        for _ in range(reps):
            floor_runs.append(asyncio.run(_pool_floor(url, bodies, in_flight)))
            notify_runs.append(asyncio.run(_notify(url, bodies, in_flight, secret)))
        peer = bodies[: min(records, HTTPX_RECORDS)]
        httpx_s = asyncio.run(_httpx_floor(url, peer, in_flight))
    finally:
        server.kill()
        server.join()
    nbytes = sum(map(len, bodies))
    return NotifyFigures(
        in_flight,
        secret is not None,
        Throughput(records, nbytes, notify_runs),
        Throughput(records, nbytes, floor_runs),
        Throughput(len(peer), sum(map(len, peer)), [httpx_s]),
    )


def main() -> None:
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    f = measure_notify(records)
    verdict = "ok" if f.notify.records_per_s >= TARGET_PER_S else "BELOW TARGET"
    print(
        f"notify: {f.notify.records:,} webhook notifications, {f.in_flight} in flight, signed: "
        f"{f.notify.records_per_s:,.0f} records/s (target >= {TARGET_PER_S:,}: {verdict}); "
        f"the HTTP client alone {f.client.records_per_s:,.0f}/s (ratio {f.ratio:.2f}); "
        f"httpx alone {f.httpx.records_per_s:,.0f}/s"
    )


if __name__ == "__main__":
    main()
