"""Kafka's murmur2 partitioner, in C and in Python."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from logway import partitioner
from tests.kafka_vectors import JAVA_MURMUR2 as JAVA_VECTORS


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
