"""The files DuckDB reads from S3 lakes: each thread seeks and reads on its own.

DuckDB reads a Python file as seek-then-read from several threads on one file object;
with one shared position, another thread's seek between the two returns wrong bytes."""

from __future__ import annotations

import io
import threading

import pyarrow as pa

from logway.lake import PositionalFile


def test_each_thread_reads_from_its_own_position() -> None:
    data = bytes(range(256)) * 4
    file = PositionalFile(pa.BufferReader(data))
    both_sought = threading.Barrier(2)
    got: dict[int, bytes] = {}

    def reader(offset: int) -> None:
        file.seek(offset)
        both_sought.wait()  # the other thread has moved "the" position meanwhile
        got[offset] = file.read(16)
        both_sought.wait()
        got[offset] += file.read(4)  # on from where this thread stopped

    threads = [threading.Thread(target=reader, args=(o,)) for o in (0, 512)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == {0: data[0:20], 512: data[512:532]}
    assert file.tell() == 0  # this thread's position never moved
    assert file.seek(-4, io.SEEK_END) == len(data) - 4
    assert file.read() == data[-4:] and file.read(10) == b""
    file.seek(2)
    assert file.seek(3, io.SEEK_CUR) == 5 and file.read(2) == data[5:7]
    with file:
        assert not file.closed
    assert file.closed
