"""The 100-byte suite: logway, the struct floor, SQLite and Redis append the same values in
batches of ``BATCH`` (a durable commit per batch), then read everything back in order.

Repetitions are interleaved: each repetition runs every system once, one after the other,
so that every system's best run comes from the same stretches of a noisy machine. Each
append starts from empty storage (the previous repetition's data is dropped untimed);
reads go over the last repetition's data.
"""

from __future__ import annotations

import os
import shutil
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from append import logway_append, struct_floor_append
from common import BATCH, Throughput, log_bytes
from peers import RedisServer, redis_append, redis_read, sqlite_append, sqlite_read
from read import logway_read, struct_floor_read

LOGWAY = "logway"
FLOOR = "struct floor"
SQLITE = "SQLite"
REDIS = "Redis"

T = TypeVar("T")


class System:
    """One contender: appends ``records`` records (the batch ``values`` over and over) into
    its own directory under ``root`` and reads them back."""

    name: str

    def __init__(self, root: str, values: list[bytes], records: int):
        self.values = values
        self.records = records
        self.batches = records // BATCH
        self.directory = os.path.join(root, self.name.replace(" ", "-"))

    def start(self) -> None:
        """Prepare before the first repetition (start a server, say)."""

    def stop(self) -> None:
        """Release what ``start`` took."""

    def fresh_directory(self) -> str:
        shutil.rmtree(self.directory, ignore_errors=True)
        os.makedirs(self.directory)
        return self.directory

    def append(self) -> float:
        """Seconds to append every record into empty storage."""
        raise NotImplementedError

    def read(self) -> float:
        """Seconds to read every record of the last append back, in order."""
        raise NotImplementedError

    def stored_bytes(self) -> int:
        """Bytes the records take where they are stored (for MB/s in the JSON)."""
        return self.records * len(self.values[0])


class LogwaySystem(System):
    name = LOGWAY

    def append(self) -> float:
        return logway_append(self.fresh_directory(), self.values, self.batches)

    def read(self) -> float:
        return logway_read(self.directory, self.records)

    def stored_bytes(self) -> int:
        return log_bytes(self.directory)


class StructFloor(System):
    name = FLOOR

    @property
    def path(self) -> str:
        return os.path.join(self.directory, "floor.bin")

    def append(self) -> float:
        self.fresh_directory()
        return struct_floor_append(self.path, self.values, self.batches)

    def read(self) -> float:
        return struct_floor_read(self.path, len(self.values[0]), self.records)

    def stored_bytes(self) -> int:
        return os.path.getsize(self.path)


class SQLiteSystem(System):
    name = SQLITE

    @property
    def path(self) -> str:
        return os.path.join(self.directory, "records.db")

    def append(self) -> float:
        self.fresh_directory()
        return sqlite_append(self.path, self.values, self.batches)

    def read(self) -> float:
        return sqlite_read(self.path, self.records)

    def stored_bytes(self) -> int:
        return os.path.getsize(self.path)


class RedisSystem(System):
    name = REDIS

    def __init__(self, root: str, values: list[bytes], records: int):
        super().__init__(root, values, records)
        self.server: RedisServer | None = None
        self.version = ""
        self._stream = ""
        self._reps = 0

    def start(self) -> None:
        self.server = RedisServer(self.fresh_directory()).__enter__()
        self.version = self.server.version

    def stop(self) -> None:
        if self.server is not None:
            self.server.__exit__(None, None, None)
            self.server = None

    def _client(self) -> RedisServer:
        if self.server is None or self.server.client is None:
            raise RuntimeError("the Redis server is not running")
        return self.server

    def append(self) -> float:
        client = self._client().client
        assert client is not None
        if self._stream:
            client.delete(self._stream)
        self._reps += 1
        self._stream = f"bench-{self._reps}"
        return redis_append(client, self._stream, self.values, self.batches)

    def read(self) -> float:
        client = self._client().client
        assert client is not None
        return redis_read(client, self._stream, self.records)


@dataclass
class SuiteResult:
    """Per system: append and read throughputs, or the error that stopped it."""

    append: dict[str, Throughput] = field(default_factory=dict)
    read: dict[str, Throughput] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    redis_version: str = ""


def run_suite(systems: list[System], repetitions: int) -> SuiteResult:
    """Start every system, run ``repetitions`` interleaved rounds of appends, then of reads;
    a system that fails is reported and dropped, the others go on."""
    result = SuiteResult()
    active: list[System] = []
    try:
        for system in systems:
            if _attempt(result, system, system.start)[0]:
                active.append(system)
        for phase in ("append", "read"):
            runs: dict[str, list[float]] = {system.name: [] for system in active}
            for rep in range(repetitions):
                line = []
                for system in list(active):
                    op = system.append if phase == "append" else system.read
                    ok, seconds = _attempt(result, system, op)
                    if not ok or seconds is None:
                        active.remove(system)
                        continue
                    runs[system.name].append(seconds)
                    line.append(f"{system.name} {seconds:.2f} s")
                print(f"    {phase} {rep + 1}/{repetitions}: {', '.join(line)}", file=sys.stderr)
            figures = result.append if phase == "append" else result.read
            for system in active:
                ok, nbytes = _attempt(result, system, system.stored_bytes)
                if ok and nbytes is not None:
                    figures[system.name] = Throughput(system.records, nbytes, runs[system.name])
    finally:
        for system in systems:
            _attempt(result, system, system.stop)
            if isinstance(system, RedisSystem) and system.version:
                result.redis_version = system.version
    return result


def _attempt(result: SuiteResult, system: System, op: Callable[[], T]) -> tuple[bool, T | None]:
    """Run ``op``; if it raises, print the traceback, note the error against ``system`` and
    return ``(False, None)``."""
    try:
        return True, op()
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        result.errors.setdefault(system.name, f"{type(exc).__name__}: {exc}")
        return False, None
