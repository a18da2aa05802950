"""What authentication costs: gRPC produce of 1,000 x 100 B batches to a ``logway serve
--auth`` whose store holds 100 ACLs, against the same server without authentication
(each repetition runs both, taking turns in order), and one permission decision once
cached (``Access.check`` on a hot path: the Authorizer's cache is a dict lookup)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass

import logway
from common import Throughput, make_values
from logway.auth import Acl, AuthStore
from logway.server.access import Access
from serving import BATCH, ServerProcess

TOPIC = "auth-bench"
ACLS = 100
DECISIONS = 200_000


@dataclass
class AuthFigures:
    produce_with_auth: Throughput
    produce_without: Throughput
    decision_us: float  # one cached permission decision, microseconds

    def to_json(self) -> dict[str, object]:
        return {
            "grpc_produce_with_auth": self.produce_with_auth.to_json(),
            "grpc_produce_without": self.produce_without.to_json(),
            "cached_decision_us": round(self.decision_us, 3),
        }


def _grant(store: AuthStore, user: str) -> None:
    """100 ACLs: 99 for other principals and topics, and the one that lets ``user``
    write (so a decision looks through all of them once)."""
    for i in range(ACLS - 1):
        store.add_acl(Acl.of(f"User:other-{i}", "write", "topic", f"topic-{i}"))
    store.add_acl(Acl.of(f"User:{user}", "all", "topic", TOPIC))


def _produce_seconds(url: str, values: list[bytes], batches: int, **credentials: str) -> float:
    with logway.connect(url, **credentials) as broker:
        broker.produce_many(TOPIC, values[:1])  # the connection (and sign-in) is made
        started = time.perf_counter()
        for _ in range(batches):
            broker.produce_many(TOPIC, values)
        return time.perf_counter() - started


def _one_run(root: str, values: list[bytes], batches: int, auth: bool) -> float:
    data = tempfile.mkdtemp(dir=root)
    server = ServerProcess(data, *(["--auth"] if auth else []))
    try:
        with logway.connect(f"file:{data}") as admin:  # through the server's own socket
            admin.create_topic(TOPIC)
            if not auth:
                return _produce_seconds(server.url, values, batches)
            store = AuthStore(admin)
            store.add_user("bench", "bench-password")
            _grant(store, "bench")
            token = store.create_token("bench", "bench", "1d")
        return _produce_seconds(server.url, values, batches, token=token)
    finally:
        server.stop()


def _decision_us(root: str) -> float:
    with logway.connect(f"file:{tempfile.mkdtemp(dir=root)}") as broker:
        store = AuthStore(broker)
        store.add_user("bench", "bench-password")
        _grant(store, "bench")
        access = Access(broker, enabled=True, store=store)
        who = asyncio.run(access.sign_in("bench", "bench-password"))
        check = access.check
        check(who, "write", "topic", TOPIC, "grpc")  # decided once, then cached
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(DECISIONS):
                check(who, "write", "topic", TOPIC, "grpc")
            best = min(best, time.perf_counter() - started)
        return best / DECISIONS * 1e6


def measure_auth(root: str, records: int, reps: int) -> AuthFigures:
    values = make_values(100, BATCH)
    batches = max(1, records // BATCH)
    n = batches * BATCH
    runs: dict[bool, list[float]] = {True: [], False: []}
    for rep in range(reps):
        for auth in (True, False) if rep % 2 else (False, True):
            runs[auth].append(_one_run(root, values, batches, auth))
    return AuthFigures(
        Throughput(n, n * 100, runs[True]),
        Throughput(n, n * 100, runs[False]),
        _decision_us(root),
    )


if __name__ == "__main__":
    import sys

    records = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    figures = measure_auth(tempfile.mkdtemp(), records, 3)
    w, wo = figures.produce_with_auth.records_per_s, figures.produce_without.records_per_s
    print(f"with auth {w:,.0f} rec/s, without {wo:,.0f} rec/s, ratio {w / wo:.3f}")
    print(f"cached decision {figures.decision_us:.2f} us")
