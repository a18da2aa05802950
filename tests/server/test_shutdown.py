"""SIGTERM ends a real ``logway serve`` promptly: every open stream — gRPC Subscribe,
gRPC-Web Subscribe, Server-Sent Events — is told at once and ends cleanly with the
position to resume from, HTTP and gRPC stop together, and the process exits 0 with
no traceback in its log."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import grpc
import httpx
import pytest

import logway
from logway.server.sse import parse_event_id
from logway.v1 import log_pb2 as pb
from logway.v1 import log_pb2_grpc
from tests.server.grpc_web_client import frame, parse
from tests.servers import LogwayServer

pytestmark = pytest.mark.slow

STREAMS = 100  # of each kind
PARTITIONS = 3
# A generous bound for a busy CI machine: before streams were told, the server took
# about 10.5 s (two 5 s graceful waits, one after the other). bench/ measures the 2 s.
EXIT_WITHIN_S = 5.0


async def _grpc_streams(target: str, opened: asyncio.Queue[str]) -> list[object]:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = log_pb2_grpc.LogStub(channel)

        async def one() -> object:
            call = stub.Subscribe(pb.SubscribeRequest(topic="t", position=pb.POSITION_EARLIEST))
            got = 0
            try:
                async for response in call:
                    got += len(response.records)
                    if got == PARTITIONS:  # one record per partition, then the signal
                        await opened.put("grpc")
            except grpc.aio.AioRpcError as exc:
                return exc
            return None

        return list(await asyncio.gather(*[one() for _ in range(STREAMS)]))


async def _sse_streams(base: str, opened: asyncio.Queue[str]) -> list[str]:
    limits = httpx.Limits(max_connections=STREAMS)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def one() -> str:
            body = ""
            async with client.stream("GET", "/v1/topics/t/stream?from=earliest") as response:
                assert response.status_code == 200
                async for text in response.aiter_text():  # raises on a body cut short
                    body += text
                    if body.count("event: record") == PARTITIONS and "told" not in body:
                        body += "\n: told\n"
                        await opened.put("sse")
            return body

        return list(await asyncio.gather(*[one() for _ in range(STREAMS)]))


async def _grpc_web_streams(base: str, opened: asyncio.Queue[str]) -> list[object]:
    limits = httpx.Limits(max_connections=STREAMS)
    request = frame(
        pb.SubscribeRequest(topic="t", position=pb.POSITION_EARLIEST).SerializeToString()
    )
    headers = {"content-type": "application/grpc-web+proto", "x-grpc-web": "1"}
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def one() -> object:
            body = b""
            told = False
            async with client.stream(
                "POST", "/logway.v1.Log/Subscribe", content=request, headers=headers
            ) as response:
                async for data in response.aiter_bytes():
                    body += data
                    reply = parse(body, response.headers, response.status_code, False)
                    count = sum(
                        len(pb.SubscribeResponse.FromString(m).records) for m in reply.messages
                    )
                    if count == PARTITIONS and not told:
                        told = True
                        await opened.put("grpc-web")
                return parse(body, response.headers, response.status_code, False), body

        return list(await asyncio.gather(*[one() for _ in range(STREAMS)]))


def test_sigterm_ends_every_open_stream_at_once_with_its_resume_position(tmp_path: Path) -> None:
    server = LogwayServer(tmp_path / "data")
    server.start()
    try:
        with logway.connect(server.url) as broker:
            broker.create_topic("t", partitions=PARTITIONS)
            for p in range(PARTITIONS):
                broker.produce("t", f"r{p}", partition=p)

        async def scenario() -> tuple[list[object], list[str], list[object], float, int]:
            opened: asyncio.Queue[str] = asyncio.Queue()
            tasks = asyncio.gather(
                _grpc_streams(f"127.0.0.1:{server.grpc_port}", opened),
                _sse_streams(server.http, opened),
                _grpc_web_streams(server.http, opened),
            )
            for _ in range(3 * STREAMS):  # every stream is open and has its records
                async with asyncio.timeout(120):
                    await opened.get()
            assert server.process is not None
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(server.process.wait, 60)
            elapsed = time.monotonic() - started
            async with asyncio.timeout(60):
                grpc_ends, sse_bodies, web_ends = await tasks
            return grpc_ends, sse_bodies, web_ends, elapsed, code

        grpc_ends, sse_bodies, web_ends, elapsed, code = asyncio.run(scenario())
        server.process = None
        if server._reader is not None:
            server._reader.join(30)
        output = "".join(server.output)
        assert code == 0, output
        assert elapsed < EXIT_WITHIN_S, f"took {elapsed:.1f}s to exit\n{output}"
        assert "Traceback" not in output and "ERROR" not in output, output

        resume = "0:1,1:1,2:1"  # the next offset of each partition
        for end in grpc_ends:
            assert isinstance(end, grpc.aio.AioRpcError), end
            assert end.code() == grpc.StatusCode.UNAVAILABLE, end
            trailers = dict(end.trailing_metadata() or ())
            assert trailers.get("logway-error") == "ServerStoppingError", trailers
            assert trailers.get("logway-resume") == resume, trailers
            assert "stopping" in (end.details() or "")

        for body in sse_bodies:
            final = body.rstrip("\n").rsplit("\n\n", 1)[-1]
            assert "event: stopping" in final, body[-300:]
            assert "retry: " in final
            (event_id,) = [line[4:] for line in final.splitlines() if line.startswith("id: ")]
            # Last-Event-ID resumes right after the last record sent on each partition
            assert parse_event_id(event_id) == {0: 1, 1: 1, 2: 1}

        for reply, body in web_ends:  # type: ignore[misc]
            assert reply.status == grpc.StatusCode.UNAVAILABLE.value[0], body[-200:]
            assert "stopping" in reply.message
            assert b"logway-resume:" + resume.encode() in body
    finally:
        server.stop()


def test_a_remote_consumer_learns_the_server_stopped_and_where_to_resume(tmp_path: Path) -> None:
    server = LogwayServer(tmp_path / "data")
    server.start()
    try:
        with logway.connect(server.url) as broker:
            broker.create_topic("t", partitions=2)
            broker.produce_many("t", [logway.Message(b"x", partition=p) for p in (0, 1, 1)])
            consumer = broker.consumer("t", start="earliest")
            got = 0
            while got < 3:
                got += len(consumer.poll(timeout=10))
            assert server.stop() == 0, "".join(server.output)
            with pytest.raises(logway.errors.ServerStoppingError) as stopped:
                while True:
                    consumer.poll(timeout=10)
            assert stopped.value.resume == {0: 1, 1: 2}
            consumer.close()
    finally:
        server.stop()
