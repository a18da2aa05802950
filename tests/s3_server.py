"""A real S3-compatible server for tests: ``moto`` in server mode (installed by
``make test``), on a free loopback port, one per session; each test gets a bucket
of its own. The AWS variables every S3 client reads point at it."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class S3Server:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.endpoint = ""
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()

    def start(self) -> S3Server:
        port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:  # ready once it answers
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                assert self.process.poll() is None, self._output()
                assert time.monotonic() < deadline, "the S3 server did not start"
                time.sleep(0.05)  # re-check a condition
        return self

    def _output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    @property
    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "logway-test",
            "AWS_SECRET_ACCESS_KEY": "logway-test-secret",
            "AWS_REGION": "us-east-1",
        }

    def create_bucket(self) -> str:
        from pyarrow import fs as pafs

        name = f"b-{uuid.uuid4().hex[:12]}"
        endpoint = self.endpoint.removeprefix("http://")
        fs = pafs.S3FileSystem(
            endpoint_override=endpoint,
            scheme="http",
            region="us-east-1",
            access_key="logway-test",
            secret_key="logway-test-secret",
            allow_bucket_creation=True,
        )
        fs.create_dir(name)
        return name

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)
            self.process = None
        self.log.close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket, with the AWS variables of this process pointing at the server."""
    for name, value in s3_server.environment.items():
        monkeypatch.setenv(name, value)
    return s3_server.create_bucket()
