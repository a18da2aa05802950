"""Kafka's murmur2 partitioner, in C and in Python."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from logway import partitioner

JAVA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def test_java_vectors() -> None:
    for key, expected in JAVA_VECTORS.items():
        assert partitioner.murmur2(key) == expected
        assert partitioner.py_murmur2(key) == expected


def test_partition_is_positive_modulo() -> None:
    assert partitioner.partition_for_key(b"foobar", 50) == 16  # 1357151166 % 50
    assert partitioner.partition_for_key(b"21", 3) == (-973932308 & 0x7FFFFFFF) % 3


@given(st.binary(max_size=64))
def test_c_and_python_agree(data: bytes) -> None:
    assert partitioner.murmur2(data) == partitioner.py_murmur2(data)
