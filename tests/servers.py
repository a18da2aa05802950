"""Real logway server processes for tests: started on a free port, their output read
while they run (tests can wait for a line of it), stopped with SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

READY = re.compile(r"grpc on (\S+):(\d+) .*http on https?://(\S+):(\d+)/")
KAFKA_READY = re.compile(r"kafka on (\S+):(\d+)")


def logway_cli(
    env: dict[str, str] | None, *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``logway ARGS`` in a process of its own (``env`` None: this one's), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "logway.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def logway_process(
    env: dict[str, str] | None, *args: str, cwd: Path | None = None, stderr: int = subprocess.PIPE
) -> subprocess.Popen[str]:
    """``logway ARGS`` started in a process of its own, its stdout (and stderr) piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "logway.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=env,
        cwd=cwd,
    )


class LogwayServer:
    def __init__(self, data: Path, *extra: str):
        self.data = data
        self.extra = extra
        self.process: subprocess.Popen[str] | None = None
        self.grpc_port = 0
        self.http_port = 0
        self.kafka_port = 0
        self.output: list[str] = []
        self._changed = threading.Condition()
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"logway://127.0.0.1:{self.grpc_port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def kafka(self) -> str:
        """bootstrap.servers of its Kafka port."""
        return f"127.0.0.1:{self.kafka_port}"

    def start(self, timeout: float = 30.0) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "logway.cli.main",
                "serve",
                "--data",
                str(self.data),
                "--grpc-port",
                "0",
                "--http-port",
                "0",
                "--kafka-port",
                "auto",
                *self.extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:  # the server prints its ports once it listens
            self.output.append(line)
            match = READY.search(line)
            if match:
                self.grpc_port = int(match.group(2))
                self.http_port = int(match.group(4))
                kafka = KAFKA_READY.search(line)
                self.kafka_port = int(kafka.group(2)) if kafka else 0
                self._reader = threading.Thread(target=self._read, daemon=True)
                self._reader.start()
                return
        raise RuntimeError(f"logway serve exited before listening:\n{''.join(self.output)}")

    def _read(self) -> None:
        """Keep reading the server's output while it runs: a full pipe would block it."""
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.output.append(line)
                self._changed.notify_all()

    def mark(self) -> int:
        """Where the output is now, for ``lines`` and ``wait_for_line``."""
        with self._changed:
            return len(self.output)

    def lines(self, pattern: str, since: int = 0) -> list[str]:
        """The lines of the server's output (from ``since`` on) matching ``pattern``."""
        with self._changed:
            return [line for line in self.output[since:] if re.search(pattern, line)]

    def wait_for_line(self, pattern: str, since: int = 0, timeout: float = 30.0) -> str:
        """The first line (from ``since`` on) matching ``pattern``, waiting for it."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.lines(pattern, since), timeout):
                raise AssertionError(
                    f"the server logged no line matching {pattern!r} in {timeout:g}s; "
                    f"its output:\n{''.join(self.output[since:][-40:])}"
                )
            return self.lines(pattern, since)[0]

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; returns the exit code (0 after a graceful stop)."""
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        if self._reader is not None:
            self._reader.join(timeout)  # the pipe reaches EOF once the process is gone
        self.process = None
        return code


OWNER = """
import logway, sys
broker = logway.connect(sys.argv[1])
print("owning", flush=True)
sys.stdin.read()  # until told to stop: stdin closes
broker.close()
"""


class DirectoryOwner:
    """A process that owns a data directory (``file:PATH``) and so serves it to the
    other processes that open it, until ``stop()``."""

    def __init__(self, data: Path):
        self.url = f"file:{data}"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> DirectoryOwner:
        self.process = subprocess.Popen(
            [sys.executable, "-c", OWNER, self.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line != "owning\n":
            raise RuntimeError(f"the owner of {self.url} did not start: {line!r}")
        return self

    def stop(self, timeout: float = 30.0) -> int:
        """Close its stdin (it closes the directory cleanly); the exit code."""
        if self.process is None:
            return 0
        assert self.process.stdin is not None
        self.process.stdin.close()
        code = self.process.wait(timeout)
        self.process = None
        return code
