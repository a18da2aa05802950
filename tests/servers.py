"""Real logway server processes for tests: started on a free port, stopped with SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

READY = re.compile(r"grpc on (\S+):(\d+) .*http on http://(\S+):(\d+)/")


class LogwayServer:
    def __init__(self, data: Path, *extra: str):
        self.data = data
        self.extra = extra
        self.process: subprocess.Popen[str] | None = None
        self.grpc_port = 0
        self.http_port = 0
        self.output: list[str] = []

    @property
    def url(self) -> str:
        return f"logway://127.0.0.1:{self.grpc_port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

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
                return
        raise RuntimeError(f"logway serve exited before listening:\n{''.join(self.output)}")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; returns the exit code (0 after a graceful stop)."""
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        try:
            rest, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            rest, _ = self.process.communicate()
        self.output.append(rest or "")
        code = self.process.returncode
        self.process = None
        return code
