"""kcat, the command-line Kafka client, for the interoperability tests: the records
they send (binary, non-ASCII, repeated headers), a runner and a parser of its
binary-safe output format."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

KCAT_TIMEOUT_S = 60
# kcat's -f: a line of lengths and headers, then exactly %K key bytes and %S value bytes
FORMAT = r"%p %o %T %K %S %h\n%k%s\n"
PARTITIONS = 2
# (key, value, headers): values are binary, but not empty and without newlines (kcat -P
# splits its input on newlines and skips empty messages); header values hold no ","
# or "=" (kcat's %h prints headers as n=v CSV)
RECORDS: list[tuple[bytes, bytes, tuple[tuple[str, bytes], ...]]] = [
    (b"alice", b"\x00\x01\x02 binary \xff\xfe\r\t end", (("source", b"web"),)),
    (b"bob", "caf\u00e9 \u043a\u043b\u044e\u0447 \u2713".encode(), (("a", b"1"), ("b", b"2"))),
    (
        "\u043a\u043b\u044e\u0447-7".encode(),
        bytes(range(11, 256)),
        (("trace", b"t-1"), ("trace", b"t-2"), ("\u0436", "\u00fc".encode())),
    ),
    (b"carol", b'{"total": 42}', (("content-type", b"application/json"),)),
    (b"dave", b" ", (("empty", b""), ("x", b"y"))),
    (b"erin", b"last one", ()),
]


@dataclass(frozen=True)
class Read:
    """One record as kcat printed it."""

    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class Kcat:
    """kcat for one broker; ``env`` may point it at another librdkafka."""

    path: str
    servers: str
    env: dict[str, str]

    def __call__(self, *args: str, stdin: bytes = b"") -> bytes:
        """Its stdout; a failure with its stderr if it does not exit 0."""
        done = subprocess.run(
            [self.path, "-b", self.servers, *args],
            input=stdin,
            capture_output=True,
            env=self.env,
            timeout=KCAT_TIMEOUT_S,
        )
        assert done.returncode == 0, f"kcat {' '.join(args)} failed:\n{done.stderr.decode()}"
        return done.stdout


def parse(output: bytes) -> list[Read]:
    """kcat's ``FORMAT`` output, binary-safe: lengths first, then the bytes."""
    reads, at = [], 0
    while at < len(output):
        end = output.index(b"\n", at)
        partition, offset, timestamp, klen, vlen, *rest = output[at:end].split(b" ", 5)
        at = end + 1
        headers = (
            tuple(
                (name.decode(), value)
                for name, _, value in (h.partition(b"=") for h in rest[0].split(b",") if h)
            )
            if rest
            else ()
        )
        key = None if int(klen) < 0 else output[at : at + int(klen)]
        at += max(0, int(klen))
        value = None if int(vlen) < 0 else output[at : at + int(vlen)]
        at += max(0, int(vlen))
        assert output[at : at + 1] == b"\n", "kcat's output is not in the expected format"
        at += 1
        reads.append(Read(int(partition), int(offset), int(timestamp), key, value, headers))
    return reads
