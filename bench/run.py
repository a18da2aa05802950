"""logway's benchmarks: run every measurement once, print the table, write the JSON.

Each logway figure is printed beside a reference measured in the same run (the Python
floor, the disk, a bare fdatasync, SQLite, Redis, bare confluent-kafka clients) as a
ratio, with PASS/FAIL against the project's targets. The exit code is non-zero only when
a benchmark could not run; a missed target is reported, not gated. Results go to
bench/results/latest.json.

Usage: ``.venv/bin/python bench/run.py [--scale 0.1] [--json PATH]``
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import sqlite3
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import redis

from append import LargeAppend, append_large
from auth import AuthFigures, measure_auth
from backup import BackupFigures, measure_backup
from common import (
    BATCH,
    REPETITIONS,
    RESULTS_DIR,
    Sizes,
    Throughput,
    make_values,
    scratch_dir,
    scratch_root,
)
from delivery import DeliveryFigures, measure_delivery
from functions import (
    KAFKA_BATCH_SIZES,
    KAFKA_PARTITIONS,
    FunctionFigures,
    KafkaFunctionFigures,
    measure_functions,
    measure_kafka_functions,
)
from kafka import BATCH as KAFKA_BATCH
from kafka import KafkaFigures, measure_kafka
from kafka_port import KafkaPortFigures, LogwayKafkaPort, measure_kafka_port
from latency import Latencies, produce_latency
from logway.recordbatch import codec
from notify import TARGET_PER_S as NOTIFY_PER_S
from notify import NotifyFigures, measure_notify
from queues import BATCH as QUEUE_BATCH
from queues import TARGETS as QUEUE_PER_S
from queues import QueueFigures, measure_queues
from report import Check, Target, table, write_json
from schemas import SchemaFigures, measure_schemas
from serving import BATCH as SERVE_BATCH
from serving import Fanout, ServingThroughput, fanout, serving_throughput
from sql import SqlFigures, measure_sql
from suite import (
    FLOOR,
    LOGWAY,
    REDIS,
    SQLITE,
    LogwaySystem,
    RedisSystem,
    SQLiteSystem,
    StructFloor,
    SuiteResult,
    run_suite,
)
from windows import BytewaxFigures, TopicWindowFigures, measure_bytewax, measure_windows

T = TypeVar("T")

APPEND_RECORDS_PER_S = 1_000_000
APPEND_VS_FLOOR = 0.7
APPEND_VS_DISK = 0.6
READ_RECORDS_PER_S = 1_500_000
LATENCY_VS_BARE = 2.0
VS_PEER = 3.0

SUITE = "100-byte suite"
LARGE = "append 1 KiB"
LATENCY = "produce latency"
SERVING = "serving throughput"
FANOUT = "fan-out"
SERVE_PRODUCE_PER_S = 200_000
SERVE_READ_PER_S = 300_000
FANOUT_P99_MS = 50.0
FANOUT_KB = 50.0
SHUTDOWN_S = 2.0  # every open stream told at once, HTTP and gRPC stopping together
FANOUT_RATE = 1_000.0
FUNCTIONS = "functions"
FUNCTION_PER_S = 500_000
FUNCTION_VS_LOOP = 0.8
MATCHER_PER_S = 300_000
FUNCTION_P99_MS = 20.0
KAFKA = "kafka backend"
KAFKA_VS_BARE = 0.8
KAFKA_FUNCTIONS = "functions on Kafka"
KAFKA_PORT = "Kafka port"
KAFKA_ON_PORT = "kafka backend on the Kafka port"
KAFKA_FUNCTIONS_ON_PORT = "functions on the Kafka port"
AUTH = "authentication"
AUTH_VS_OPEN = 0.95  # gRPC produce with --auth and 100 ACLs / without
DECISION_US = 10.0  # one cached permission decision
SCHEMAS = "schema registry"
LOOKUPS_PER_S = 100_000.0  # a schema by id, once read
ENFORCED_VS_PLAIN = 0.7  # produce_many of 1 KiB Protobuf records with value_schema / without
WINDOWS = "windows from a topic"
WINDOW_PER_S = 500_000  # tumbling 1m count + mean of 10,000 keys, read from a topic
WINDOW_VS_LOOP = 0.5  # ... / a dict loop over the same topic
WINDOWS_BYTEWAX = "windows beside Bytewax"
WINDOW_VS_BYTEWAX = 3.0  # WindowEngine / Bytewax, the same windows in memory
SQL = "continuous SQL"
SQL_PER_S = 300_000  # the same windows as a TUMBLE query read from a topic
PORT_PRODUCE_PER_S = 300_000
PORT_CONSUME_PER_S = 800_000
PORT_VS_TANSU = 1.5
PORT_P99_MS = 10.0
PORT_IDLE_KB = 30.0
PORT_SESSION_MS = 6_000  # Kafka's shortest session timeout, which logway's port keeps
KAFKA_FUNCTION_VS_BARE = 0.8
KAFKA_FUNCTION_VS_QUIX = 1.5
BACKUP = "backup and restore"
BACKUP_VS_DISK = 0.5
DELIVERY = "delivery to Parquet"
DELIVERY_PER_S = 150_000
DELIVERY_VS_PYARROW = 0.7
QUEUES = "queues"  # targets QUEUE_PER_S: receive 100 + ack, embedded and over gRPC
NOTIFY = "webhook notifications"  # target NOTIFY_PER_S, 50 in flight
NOTIFY_IN_FLIGHT = 50


class OtherCpu:
    """CPU time the rest of the machine uses from now on (Linux ``/proc/stat`` minus this
    process and its waited-for children, so kernel threads count): how noisy the run was."""

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float] | None:
        try:
            with open("/proc/stat") as stat:
                fields = [int(x) for x in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        busy = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # up to steal
        t = os.times()
        return busy, t.user + t.system + t.children_user + t.children_system

    def seconds(self) -> float | None:
        end = self._sample()
        if self._start is None or end is None:
            return None
        return max(0.0, (end[0] - self._start[0]) - (end[1] - self._start[1]))


class Sections:
    """Runs the benchmark sections one by one, reporting progress on stderr and keeping
    the error that stopped a section (or a system within the suite)."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def run(self, name: str, fn: Callable[[], T]) -> T | None:
        print(f"  {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            result = fn()
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            self.errors[name] = f"{type(exc).__name__}: {exc}"
            return None
        print(f"  {name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
        return result

    def why(self, *names: str) -> str:
        """Why a check has no figure: the first failed section or system it depends on."""
        for name in names:
            if name in self.errors:
                return f"{name} failed: {self.errors[name]}"
        return "not measured"


def throughput_check(
    s: Sections,
    name: str,
    unit: str,
    target: Target,
    figure: Throughput | None,
    reference: Throughput | None,
    reference_name: str,
    depends: tuple[str, ...],
) -> Check:
    """A check of records/s (``unit="rec/s"``) or MB/s between two throughputs."""

    def value(t: Throughput | None) -> float | None:
        if t is None:
            return None
        return t.records_per_s if unit == "rec/s" else t.bytes_per_s / 1e6

    check = Check(name, unit, target, value(figure), value(reference), reference_name)
    if figure is None or reference is None:
        check.error = s.why(*depends)
    return check


@dataclasses.dataclass
class Measured:
    s: Sections
    suite: SuiteResult
    large: LargeAppend | None
    latency: Latencies | None
    serving: ServingThroughput | None
    fan: Fanout | None
    functions: FunctionFigures | None
    kafka: KafkaFigures | None
    kafka_functions: KafkaFunctionFigures | None
    kafka_port: KafkaPortFigures | None
    kafka_on_port: KafkaFigures | None
    kafka_functions_on_port: KafkaFunctionFigures | None
    backup: BackupFigures | None
    delivery: DeliveryFigures | None
    auth: AuthFigures | None = None
    schemas: SchemaFigures | None = None
    windows: TopicWindowFigures | None = None
    bytewax: BytewaxFigures | None = None
    sql: SqlFigures | None = None
    queues: QueueFigures | None = None
    notify: NotifyFigures | None = None


def build_checks(m: Measured) -> list[Check]:
    """The rows of the table, in the order of the project's targets."""
    s, suite, large, latency = m.s, m.suite, m.large, m.latency
    appended, read = suite.append, suite.read
    checks = [
        throughput_check(
            s,
            "append 100 B, produce_many",
            "rec/s",
            Target("figure_at_least", APPEND_RECORDS_PER_S),
            appended.get(LOGWAY),
            appended.get(FLOOR),
            "struct floor append",
            (SUITE, LOGWAY, FLOOR),
        ),
        throughput_check(
            s,
            "append 100 B vs Python floor",
            "rec/s",
            Target("ratio_at_least", APPEND_VS_FLOOR),
            appended.get(LOGWAY),
            appended.get(FLOOR),
            "struct floor append",
            (SUITE, LOGWAY, FLOOR),
        ),
        throughput_check(
            s,
            "append 1 KiB vs disk",
            "MB/s",
            Target("ratio_at_least", APPEND_VS_DISK),
            large.logway if large else None,
            large.disk if large else None,
            "disk write+fdatasync",
            (LARGE,),
        ),
        throughput_check(
            s,
            "read 100 B, fetch",
            "rec/s",
            Target("figure_at_least", READ_RECORDS_PER_S),
            read.get(LOGWAY),
            read.get(FLOOR),
            "struct floor read",
            (SUITE, LOGWAY, FLOOR),
        ),
    ]
    for pct, target in ((50, Target("ratio_at_most", LATENCY_VS_BARE)), (99, Target("info"))):
        check = Check(f"produce latency p{pct}", "ms", target, reference_name="write+fdatasync")
        if latency is None:
            check.error = s.why(LATENCY)
        else:
            summary = latency.summary()
            check.figure = summary[f"logway_p{pct}_s"] * 1e3
            check.reference = summary[f"bare_p{pct}_s"] * 1e3
        checks.append(check)
    for peer, label in ((SQLITE, "SQLite WAL"), (REDIS, "Redis Streams")):
        for what, figures in (("append", appended), ("read", read)):
            checks.append(
                throughput_check(
                    s,
                    f"{what} 100 B vs {label}",
                    "rec/s",
                    Target("ratio_at_least", VS_PEER),
                    figures.get(LOGWAY),
                    figures.get(peer),
                    f"{peer} {what}",
                    (SUITE, LOGWAY, peer),
                )
            )
    return (
        checks
        + serving_checks(m)
        + function_checks(m)
        + kafka_checks(m, m.kafka, KAFKA)
        + kafka_function_checks(m, m.kafka_functions, KAFKA_FUNCTIONS)
        + kafka_port_checks(m)
        + kafka_checks(m, m.kafka_on_port, KAFKA_ON_PORT, " (logway port)")
        + kafka_function_checks(
            m, m.kafka_functions_on_port, KAFKA_FUNCTIONS_ON_PORT, " (logway port)"
        )
        + backup_checks(m)
        + delivery_checks(m)
        + auth_checks(m)
        + schema_checks(m)
        + window_checks(m)
        + queue_checks(m)
        + notify_checks(m)
    )


def queue_checks(m: Measured) -> list[Check]:
    """One queue consumer receiving batches of 100 and acking each, embedded and over
    gRPC, each beside plain fetches of 100 of the same records."""
    q = m.queues
    return [
        throughput_check(
            m.s,
            f"queue receive {QUEUE_BATCH} + ack, {where}",
            "rec/s",
            Target("figure_at_least", QUEUE_PER_S[key]),
            figure,
            reference,
            f"fetch {QUEUE_BATCH} at a time",
            (QUEUES,),
        )
        for key, where, figure, reference in (
            ("embedded", "embedded", q.embedded if q else None, q.embedded_fetch if q else None),
            ("grpc", "gRPC", q.grpc if q else None, q.grpc_fetch if q else None),
        )
    ]


def notify_checks(m: Measured) -> list[Check]:
    """Signed webhook notifications to a local server against the same POSTs by their
    HTTP client alone (the target), and beside httpx alone (info)."""
    n = m.notify
    name = f"webhook notifications, {NOTIFY_IN_FLIGHT} in flight, signed"
    return [
        throughput_check(
            m.s,
            name,
            "rec/s",
            Target("figure_at_least", NOTIFY_PER_S),
            n.notify if n else None,
            n.client if n else None,
            "its HTTP client alone",
            (NOTIFY,),
        ),
        throughput_check(
            m.s,
            "webhook notifications vs httpx alone",
            "rec/s",
            Target("info"),
            n.notify if n else None,
            n.httpx if n else None,
            "httpx AsyncClient",
            (NOTIFY,),
        ),
    ]


def window_checks(m: Measured) -> list[Check]:
    """A tumbling 1-minute count + mean of 10,000 keys: read from a topic by a window
    runner against a dict loop over the same topic, and the window engine against
    Bytewax over the same records in memory; results that differ from the
    reference's make the row an error."""
    w, b = m.windows, m.bytewax
    checks = [
        throughput_check(
            m.s,
            name,
            "rec/s",
            target,
            w.runner if w else None,
            w.loop if w else None,
            "dict loop from the topic",
            (WINDOWS,),
        )
        for name, target in (
            (
                "window from a topic, tumbling 1m count+mean",
                Target("figure_at_least", WINDOW_PER_S),
            ),
            ("window from a topic vs a dict loop", Target("ratio_at_least", WINDOW_VS_LOOP)),
        )
    ]
    if w and w.mismatch:
        for check in checks:
            check.error = f"results differ from the dict loop's: {w.mismatch}"
    bytewax = throughput_check(
        m.s,
        "window engine vs Bytewax, in memory",
        "rec/s",
        Target("ratio_at_least", WINDOW_VS_BYTEWAX),
        b.engine if b else None,
        b.bytewax if b else None,
        "Bytewax fold_window",
        (WINDOWS_BYTEWAX,),
    )
    if b and b.mismatch:
        bytewax.error = f"results differ from Bytewax's: {b.mismatch}"
    q = m.sql
    sql = throughput_check(
        m.s,
        "continuous SQL from a topic, TUMBLE 1m count+avg",
        "rec/s",
        Target("figure_at_least", SQL_PER_S),
        q.query if q else None,
        w.loop if w else None,
        "dict loop from the topic",
        (SQL, WINDOWS),
    )
    if q and q.mismatch:
        sql.error = f"results differ from the dict loop's: {q.mismatch}"
    return [*checks, bytewax, sql]


def schema_checks(m: Measured) -> list[Check]:
    """Schema lookups by id, and what enforcing a topic's value_schema costs a producer."""
    f = m.schemas
    always = f.enforcement if f else None
    never = f.enforcement_nosync if f else None
    return [
        figure_check(
            m,
            "schema lookup by id, once read",
            "lookups/s",
            Target("figure_at_least", LOOKUPS_PER_S),
            SCHEMAS,
            f and (lambda: f.lookups_per_s),
        ),
        throughput_check(
            m.s,
            "produce 1,000 x 1 KiB Protobuf, value_schema",
            "rec/s",
            Target("ratio_at_least", ENFORCED_VS_PLAIN),
            always.enforced if always else None,
            always.plain if always else None,
            "without value_schema",
            (SCHEMAS,),
        ),
        throughput_check(
            m.s,
            "same, fsync=never",
            "rec/s",
            Target("info"),
            never.enforced if never else None,
            never.plain if never else None,
            "without value_schema",
            (SCHEMAS,),
        ),
    ]


def auth_checks(m: Measured) -> list[Check]:
    """What ``--auth`` costs a gRPC producer, and one cached permission decision."""
    a = m.auth
    return [
        throughput_check(
            m.s,
            "gRPC produce with auth + 100 ACLs",
            "rec/s",
            Target("ratio_at_least", AUTH_VS_OPEN),
            a and a.produce_with_auth,
            a and a.produce_without,
            "without auth",
            (AUTH,),
        ),
        figure_check(
            m,
            "permission decision, cached",
            "us",
            Target("figure_at_most", DECISION_US),
            AUTH,
            a and (lambda: a.decision_us),
        ),
    ]


def figure_check(
    m: Measured,
    name: str,
    unit: str,
    target: Target,
    section: str,
    figure: Callable[[], float | None] | None,
) -> Check:
    """A check of a figure alone (no reference); ``figure`` is None when its section
    did not run."""
    check = Check(name, unit, target)
    if figure is None:
        check.error = m.s.why(section)
    else:
        check.figure = figure()
    return check


def function_checks(m: Measured) -> list[Check]:
    """Functions on the embedded backend: no-op throughput, the matcher, latency."""
    f = m.functions
    noop = [
        throughput_check(
            m.s,
            name,
            "rec/s",
            target,
            f.noop if f else None,
            f.loop if f else None,
            "consume+commit loop",
            (FUNCTIONS,),
        )
        for name, target in (
            ("no-op function, batch_size 1,000", Target("figure_at_least", FUNCTION_PER_S)),
            ("no-op function vs hand-written loop", Target("ratio_at_least", FUNCTION_VS_LOOP)),
        )
    ]
    rows: list[tuple[str, str, Target, Callable[[], float | None] | None]] = [
        (
            "filter matcher, 5 fields",
            "rec/s",
            Target("figure_at_least", MATCHER_PER_S),
            f and (lambda: f.matcher_per_s),
        ),
        ("produce to handler start p50", "ms", Target("info"), f and (lambda: f.latency_ms(50))),
        (
            "produce to handler start p99",
            "ms",
            Target("figure_at_most", FUNCTION_P99_MS),
            f and (lambda: f.latency_ms(99)),
        ),
    ]
    return noop + [figure_check(m, *row[:3], FUNCTIONS, row[3]) for row in rows]


def kafka_checks(m: Measured, k: KafkaFigures | None, section: str, where: str = "") -> list[Check]:
    """The Kafka backend on a broker (tansu, or logway's own Kafka port): against bare
    confluent-kafka clients doing the same, and beside the embedded backend."""
    checks = [
        throughput_check(
            m.s, name + where, "rec/s", target, figure, reference, reference_name, (section,)
        )
        for name, target, figure, reference, reference_name in (
            (
                "Kafka produce 1,000 x 100 B",
                Target("ratio_at_least", KAFKA_VS_BARE),
                k.produce if k else None,
                k.bare_produce if k else None,
                "confluent-kafka Producer",
            ),
            (
                "Kafka consume 100 B",
                Target("ratio_at_least", KAFKA_VS_BARE),
                k.consume if k else None,
                k.bare_consume if k else None,
                "confluent-kafka Consumer",
            ),
            (
                "Kafka produce vs embedded",
                Target("info"),
                k.produce if k else None,
                k.embedded_produce if k else None,
                "embedded produce_many",
            ),
            (
                "Kafka consume vs embedded",
                Target("info"),
                k.consume if k else None,
                k.embedded_consume if k else None,
                "embedded consumer",
            ),
        )
    ]
    return checks


def kafka_port_checks(m: Measured) -> list[Check]:
    """logway serve's Kafka port with bare confluent-kafka clients, against tansu."""
    k = m.kafka_port
    rows = [
        throughput_check(m.s, name, "rec/s", target, figure, reference, "tansu", (KAFKA_PORT,))
        for name, target, figure, reference in (
            (
                "Kafka port produce acks=all 100 B",
                Target("figure_at_least", PORT_PRODUCE_PER_S),
                k and k.produce,
                k and k.tansu_produce,
            ),
            (
                "Kafka port produce vs tansu",
                Target("ratio_at_least", PORT_VS_TANSU),
                k and k.produce,
                k and k.tansu_produce,
            ),
            (
                "Kafka port consume 100 B",
                Target("figure_at_least", PORT_CONSUME_PER_S),
                k and k.consume,
                k and k.tansu_consume,
            ),
            (
                "Kafka port consume vs tansu",
                Target("ratio_at_least", PORT_VS_TANSU),
                k and k.consume,
                k and k.tansu_consume,
            ),
        )
    ]
    figures: list[tuple[str, str, Target, Callable[[], float | None] | None]] = [
        (
            "Kafka port produce p99 at 5,000/s",
            "ms",
            Target("figure_at_most", PORT_P99_MS),
            k and (lambda: k.latency_ms(99)),
        ),
        (
            "Kafka port idle connection",
            "KB",
            Target("figure_at_most", PORT_IDLE_KB),
            k and (lambda: k.idle_bytes_per_connection / 1024),
        ),
    ]
    return rows + [figure_check(m, *row[:3], KAFKA_PORT, row[3]) for row in figures]


def kafka_function_checks(
    m: Measured, k: KafkaFunctionFigures | None, section: str, where_broker: str = ""
) -> list[Check]:
    """A function on kafka:// decoding JSON records, at each batch size and partition
    count, against a bare confluent-kafka loop doing the same, and with the default
    settings against Quix Streams running the same handler."""
    checks = []
    for parts in KAFKA_PARTITIONS:
        where = f"{parts} partition{'s' if parts > 1 else ''}"
        for size in KAFKA_BATCH_SIZES:
            default = " (default)" if size == 100 else ""
            checks.append(
                throughput_check(
                    m.s,
                    f"Kafka function, {where}, batch_size {size:,}{default}{where_broker}",
                    "rec/s",
                    Target("ratio_at_least", KAFKA_FUNCTION_VS_BARE),
                    k.functions.get((parts, size)) if k else None,
                    k.bare.get(parts) if k else None,
                    "confluent-kafka loop",
                    (section,),
                )
            )
        checks.append(
            throughput_check(
                m.s,
                f"Kafka function, {where}, vs Quix Streams{where_broker}",
                "rec/s",
                Target("ratio_at_least", KAFKA_FUNCTION_VS_QUIX),
                k.functions.get((parts, 100)) if k else None,
                k.quix.get(parts) if k else None,
                "Quix Streams",
                (section,),
            )
        )
    return checks


def backup_checks(m: Measured) -> list[Check]:
    """Backup and restore of a 1 GB topic against the same disk's sequential bandwidth:
    its write+fsync (the target), and a copy, its read and write together (info)."""
    b = m.backup
    rows = []
    for what in ("backup", "restore"):
        figure = getattr(b, what) if b else None
        rows += [
            throughput_check(
                m.s,
                f"{what} 1 GB vs disk",
                "MB/s",
                Target("ratio_at_least", BACKUP_VS_DISK),
                figure,
                b.disk_write if b else None,
                "disk write+fsync",
                (BACKUP,),
            ),
            throughput_check(
                m.s,
                f"{what} 1 GB vs disk copy",
                "MB/s",
                Target("info"),
                figure,
                b.disk_copy if b else None,
                "disk read + write+fsync",
                (BACKUP,),
            ),
        ]
    return rows


def delivery_checks(m: Measured) -> list[Check]:
    """A delivery stream of 1 KiB JSON records into Parquet files, against pyarrow
    writing the same records as one table directly."""
    d = m.delivery
    return [
        throughput_check(
            m.s,
            "delivery 1 KiB JSON to Parquet",
            "rec/s",
            Target("figure_at_least", DELIVERY_PER_S),
            d.logway if d else None,
            d.pyarrow if d else None,
            "pyarrow read_json + write_table",
            (DELIVERY,),
        ),
        throughput_check(
            m.s,
            "delivery vs pyarrow direct",
            "rec/s",
            Target("ratio_at_least", DELIVERY_VS_PYARROW),
            d.logway if d else None,
            d.pyarrow if d else None,
            "pyarrow read_json + write_table",
            (DELIVERY,),
        ),
    ]


def serving_checks(m: Measured) -> list[Check]:
    """``logway serve``: gRPC throughput against the embedded backend, and fan-out."""
    t = m.serving
    checks = [
        throughput_check(m.s, name, "rec/s", target, figure, reference, reference_name, (SERVING,))
        for name, target, figure, reference, reference_name in (
            (
                "gRPC produce 1,000 x 100 B",
                Target("figure_at_least", SERVE_PRODUCE_PER_S),
                t.produce if t else None,
                t.embedded_produce if t else None,
                "embedded produce_many",
            ),
            (
                "gRPC subscribe-read",
                Target("figure_at_least", SERVE_READ_PER_S),
                t.read if t else None,
                t.embedded_read if t else None,
                "embedded consumer",
            ),
        )
    ]
    fan = m.fan
    total = fan.grpc_subscribers + fan.sse_subscribers if fan else 0
    rows: list[tuple[str, str, Target, Callable[[], float | None] | None]] = [
        (
            "fan-out subscribers complete, in order",
            "subs",
            Target("figure_at_least", total),
            fan and (lambda: fan.complete),
        ),
        ("fan-out latency p50", "ms", Target("info"), fan and (lambda: fan.percentile(50))),
        (
            "fan-out latency p99",
            "ms",
            Target("figure_at_most", FANOUT_P99_MS),
            fan and (lambda: fan.percentile(99)),
        ),
        (
            "fan-out server memory per subscriber",
            "KB",
            Target("figure_at_most", FANOUT_KB),
            fan and (lambda: fan.bytes_per_subscriber / 1000),
        ),
        (
            "serve exits after SIGTERM, every subscriber connected",
            "s",
            Target("figure_at_most", SHUTDOWN_S),
            fan and (lambda: fan.shutdown_s),
        ),
    ]
    return checks + [figure_check(m, *row[:3], FANOUT, row[3]) for row in rows]


def measure(sizes: Sizes, reps: int) -> Measured:
    """Run every section in a scratch directory on the repository's disk, removed after."""
    s = Sections()
    with scratch_dir("run") as root:
        small = make_values(sizes.small_bytes)
        systems = [
            LogwaySystem(root, small, sizes.small_records),
            StructFloor(root, small, sizes.small_records),
            SQLiteSystem(root, small, sizes.sqlite_records),
            RedisSystem(root, small, sizes.redis_records),
        ]
        suite = s.run(SUITE, lambda: run_suite(systems, reps)) or SuiteResult()
        s.errors.update(suite.errors)
        large = s.run(
            LARGE, lambda: append_large(root, sizes.large_records, sizes.large_bytes, reps)
        )
        latency = s.run(
            LATENCY,
            lambda: produce_latency(
                root, sizes.small_bytes, sizes.latency_samples, sizes.latency_warmup
            ),
        )
        serving = s.run(SERVING, lambda: serving_throughput(root, sizes.serve_records, reps))
        fan = s.run(
            FANOUT,
            lambda: fanout(
                root,
                sizes.fanout_grpc,
                sizes.fanout_sse,
                sizes.fanout_records,
                FANOUT_RATE,
            ),
        )
        functions = s.run(
            FUNCTIONS,
            lambda: measure_functions(
                root, sizes.function_records, reps, sizes.function_latency_samples
            ),
        )
        kafka = s.run(KAFKA, lambda: measure_kafka(root, sizes.kafka_records, reps))
        kafka_functions = s.run(
            KAFKA_FUNCTIONS, lambda: measure_kafka_functions(root, sizes.kafka_records, reps)
        )
        kafka_port = s.run(KAFKA_PORT, lambda: measure_kafka_port(root, sizes.port_records, reps))
        kafka_on_port = s.run(
            KAFKA_ON_PORT,
            lambda: measure_kafka(root, sizes.kafka_records, reps, broker=LogwayKafkaPort),
        )
        kafka_functions_on_port = s.run(
            KAFKA_FUNCTIONS_ON_PORT,
            lambda: measure_kafka_functions(
                root, sizes.kafka_records, reps, broker=LogwayKafkaPort, session_ms=PORT_SESSION_MS
            ),
        )
        backup = s.run(
            BACKUP,
            lambda: measure_backup(root, sizes.backup_records, sizes.large_bytes, reps),
        )
        delivery = s.run(DELIVERY, lambda: measure_delivery(root, sizes.delivery_records, reps))
        auth = s.run(AUTH, lambda: measure_auth(root, sizes.serve_records // 2, reps))
        schemas = s.run(SCHEMAS, lambda: measure_schemas(root, reps, sizes.large_records))
        windows = s.run(WINDOWS, lambda: measure_windows(root, sizes.window_records, reps))
        bytewax = s.run(WINDOWS_BYTEWAX, lambda: measure_bytewax(sizes.window_records, reps))
        sql = s.run(SQL, lambda: measure_sql(root, sizes.window_records, reps))
        queues = s.run(
            QUEUES,
            lambda: measure_queues(root, sizes.queue_records, sizes.queue_grpc_records, reps),
        )
        notify = s.run(
            NOTIFY,
            lambda: measure_notify(sizes.notify_records, NOTIFY_IN_FLIGHT, reps=reps),
        )
    return Measured(
        s,
        suite,
        large,
        latency,
        serving,
        fan,
        functions,
        kafka,
        kafka_functions,
        kafka_port,
        kafka_on_port,
        kafka_functions_on_port,
        backup,
        delivery,
        auth,
        schemas,
        windows,
        bytewax,
        sql,
        queues,
        notify,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply record counts")
    parser.add_argument("--json", default=os.path.join(RESULTS_DIR, "latest.json"))
    args = parser.parse_args(argv)
    sizes = Sizes() if args.scale == 1.0 else Sizes().scaled(args.scale)
    reps = REPETITIONS
    print(
        f"logway bench: {sizes.small_records:,} x {sizes.small_bytes} B, "
        f"{sizes.large_records:,} x {sizes.large_bytes} B, batches of {BATCH:,}, best of {reps}; "
        f"scratch in {scratch_root()}",
        file=sys.stderr,
    )
    started, others = time.perf_counter(), OtherCpu()
    m = measure(sizes, reps)
    elapsed, other_cpu_s = time.perf_counter() - started, others.seconds()

    checks = build_checks(m)
    print()
    print(table(checks))
    print()
    print(notes(sizes, m, elapsed, other_cpu_s))
    write_json(args.json, document(sizes, reps, m, checks, elapsed, other_cpu_s))
    print(f"results: {os.path.relpath(args.json)}")
    return 1 if m.s.errors else 0


def document(
    sizes: Sizes,
    reps: int,
    m: Measured,
    checks: list[Check],
    elapsed: float,
    other_cpu_s: float | None,
) -> dict[str, Any]:
    """Everything measured, for bench/results/latest.json."""
    s, suite, large, latency = m.s, m.suite, m.large, m.latency
    measurements: dict[str, Any] = {
        "append_100b": {name: t.to_json() for name, t in suite.append.items()},
        "read_100b": {name: t.to_json() for name, t in suite.read.items()},
    }
    if large:
        measurements["append_1kib"] = {
            "logway": large.logway.to_json(),
            "disk": large.disk.to_json(),
            "chunk_bytes": large.chunk_bytes,
        }
    if latency:
        measurements["produce_latency"] = {
            **latency.summary(),
            "bytes_per_write": latency.nbytes,
            "samples": len(latency.logway),
        }
    if m.serving:
        measurements["serving_100b"] = {
            "grpc_produce": m.serving.produce.to_json(),
            "grpc_subscribe_read": m.serving.read.to_json(),
            "embedded_produce": m.serving.embedded_produce.to_json(),
            "embedded_read": m.serving.embedded_read.to_json(),
        }
    if m.fan:
        measurements["fanout"] = m.fan.to_json()
    if m.functions:
        measurements["functions"] = m.functions.to_json()
    if m.kafka:
        measurements["kafka_100b"] = m.kafka.to_json()
    if m.kafka_functions:
        measurements["kafka_functions_100b_json"] = m.kafka_functions.to_json()
    if m.kafka_port:
        measurements["kafka_port_100b"] = m.kafka_port.to_json()
    if m.kafka_on_port:
        measurements["kafka_on_port_100b"] = m.kafka_on_port.to_json()
    if m.kafka_functions_on_port:
        measurements["kafka_functions_on_port_100b_json"] = m.kafka_functions_on_port.to_json()
    if m.backup:
        measurements["backup_1gb"] = m.backup.to_json()
    if m.delivery:
        measurements["delivery_1kib_json"] = m.delivery.to_json()
    if m.auth:
        measurements["auth"] = m.auth.to_json()
    if m.schemas:
        measurements["schemas"] = m.schemas.to_json()
    if m.windows:
        measurements["windows_from_topic"] = m.windows.to_json()
    if m.bytewax:
        measurements["windows_vs_bytewax"] = m.bytewax.to_json()
    if m.sql:
        measurements["continuous_sql"] = m.sql.to_json()
    if m.queues:
        measurements["queues_100b"] = m.queues.to_json()
    if m.notify:
        measurements["notify_webhooks"] = m.notify.to_json()
    return {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "elapsed_s": round(elapsed, 1),
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "logway_c_speedups": codec.ACCELERATED,
            "sqlite": sqlite3.sqlite_version,
            "redis_server": suite.redis_version or None,
            "redis_py": redis.__version__,
            "scratch_root": scratch_root(),
            "other_processes_cpu_s": other_cpu_s,
        },
        "sizes": dataclasses.asdict(sizes),
        "batch": BATCH,
        "repetitions": reps,
        "checks": [c.to_json() for c in checks],
        "measurements": measurements,
        "errors": s.errors,
    }


def notes(sizes: Sizes, m: Measured, elapsed: float, other_cpu_s: float | None) -> str:
    """What the references are, in a few lines under the table."""
    large, latency, fan = m.large, m.latency, m.fan
    lines = [
        f"throughput: best of {REPETITIONS} interleaved repetitions; batches of {BATCH:,} "
        "records, one fdatasync (or durable commit) per batch; logway: 1 partition, "
        "fsync=always",
        "struct floor: per record struct.pack length prefix + value, joined per batch, "
        "write + fdatasync; its read: pread a batch, a tuple per record",
        f"reads: the records just appended (page cache), {BATCH:,} per fetch/query/XRANGE, "
        "a Python object per record",
        f"records: logway and the floor {sizes.small_records:,}; SQLite {sizes.sqlite_records:,} "
        f"(WAL, synchronous=FULL); Redis {sizes.redis_records:,} (appendfsync always, redis-py "
        "pipelines)",
    ]
    if large:
        lines.append(
            f"disk: {large.disk.nbytes / 1e6:,.1f} MB in chunks of {large.chunk_bytes:,} B "
            "(logway's batch size on disk), write + fdatasync per chunk"
        )
    if latency:
        lines.append(
            f"latency: {len(latency.logway):,} single-record produces vs bare appends of "
            f"{latency.nbytes} B, interleaved"
        )
    lines.append(
        f"serving: a logway serve process and a client in this process, batches of "
        f"{SERVE_BATCH:,} x 100 B, {sizes.serve_records:,} records; reference: the same "
        "against the embedded backend in this process"
    )
    if fan:
        lines.append(
            f"fan-out: {fan.grpc_subscribers:,} gRPC + {fan.sse_subscribers:,} SSE subscribers "
            f"from offset 0, {fan.records:,} records of 100 B at {fan.rate:,.0f}/s (open loop); "
            f"{fan.messages:,} messages received; CPU: server {fan.server_cpu_s:.1f} s, "
            f"clients {fan.clients_cpu_s:.1f} s over {fan.produce_seconds:.1f} s"
        )
        if fan.errors:
            lines.append(f"fan-out errors: {'; '.join(fan.errors)}")
    if m.functions:
        lines.append(
            f"functions: embedded, {sizes.function_records:,} x 100 B; a no-op sync handler "
            f"vs poll(1,000) + commit() per batch; matcher: {m.functions.matcher_records:,} "
            f"decoded events; latency: {sizes.function_latency_samples} single records, 5 ms apart"
        )
    if m.kafka:
        lines.append(
            f"kafka: a tansu broker (in memory) on loopback, {sizes.kafka_records:,} x 100 B to "
            f"1 partition, batches of {KAFKA_BATCH:,}; produce_many vs a confluent-kafka "
            "Producer with logway's settings (produce per record with a delivery report, flush "
            f"per batch); consumer poll vs a Consumer's consume({KAFKA_BATCH:,}) taking every "
            "field, both from opening to closing; "
            "embedded: the same workload on a file: directory (fsync=always)"
        )
    if m.kafka_functions:
        lines.append(
            f"kafka functions: another tansu broker, {sizes.kafka_records:,} JSON records of "
            f"100 B on 1 and on 3 partitions, each read from the start by a fresh group and "
            "decoded with json.loads; a logway function (kafka://) vs a confluent-kafka "
            "Consumer in a group with logway's librdkafka settings (consume(1000), commit "
            "after each) and Quix Streams (StreamingDataFrame.update, its own process and "
            "virtualenv), each timed from its first record to its last (not the group join)"
        )
    if m.backup:
        lines.append(
            f"backup: a topic of {sizes.backup_records:,} x {sizes.large_bytes} B "
            f"({m.backup.backup.nbytes / 1e6:,.0f} MB of segments, fsync=always) to a "
            f"directory in {m.backup.objects} objects of 64 MiB, and restored into a new "
            "topic (every SHA-256 and CRC checked), each from a cold page cache; disk: a file "
            "of that size written in 8 MiB chunks + one fsync, and read back cold"
        )
    if m.delivery:
        lines.append(
            f"delivery: {sizes.delivery_records:,} JSON records of 1 KiB on the embedded backend "
            "(1 partition) delivered by a DeliveryRunner to a directory (64 MB buffers, snappy, "
            f"{m.delivery.objects} objects), from start to the last commit; pyarrow: the same "
            "values joined, read_json, write_table (snappy) to one file, fsync"
        )
    if m.windows:
        lines.append(
            f"windows: {sizes.window_records:,} JSON records of "
            f"{m.windows.runner.nbytes / sizes.window_records:.0f} B, one key per 100, over ten "
            "minutes of event time (out of order within each minute) on the embedded backend; "
            f"tumbling 1m count + mean, {m.windows.windows:,} windows: a WindowRunner (idle 1ms) "
            "from its start to the last window's result produced vs poll(5,000) + json.loads + "
            "a dict of [count, sum] per (key, window start), the same results"
        )
    if m.bytewax:
        lines.append(
            "Bytewax: fold_window of [count, sum], EventClock (waiting 1 minute, the records' "
            "disorder), TumblingWindower aligned to the epoch, TestingSource of the whole input "
            "as one batch (its fastest; batches of 1,000 run ten times slower), ordered=False, "
            "timestamps given as datetimes; vs WindowEngine.add of the same records with the "
            "watermark raised every 5,000 and every window closed; the same results"
        )
    if m.sql:
        lines.append(
            "continuous SQL: the same records through INSERT INTO … SELECT user, window_start, "
            "count(*), avg(ms) FROM TUMBLE(clicks, DESCRIPTOR(_timestamp), INTERVAL '1' MINUTE) "
            "GROUP BY …, run by SqlRunner (idle 1ms) until every window's rows are produced; "
            "the same results as the dict loop"
        )
    if m.queues:
        lines.append(
            f"queues: one consumer of a new queue group receiving {QUEUE_BATCH} records at a "
            f"time and acking each batch (best of {REPETITIONS}, a group each), "
            f"{sizes.queue_records:,} x 100 B on the embedded backend (1 partition) and "
            f"{sizes.queue_grpc_records:,} over gRPC to a logway serve process; reference: "
            f"plain fetches of {QUEUE_BATCH} of the same records (no acquisition, "
            "acknowledgement or stored state)"
        )
    if m.notify:
        lines.append(
            f"notifications: {sizes.notify_records:,} JSON records (memory: backend) sent as "
            f"webhook POSTs signed with a secret, {m.notify.in_flight} in flight, to a local "
            "HTTP/1.1 server in a process of its own (keep-alive, 204), run as logway run "
            "does (consumer group, idempotency keys, commits; no rate limit) until the last "
            "is delivered; reference: the same POSTs by the notification's HTTP/1.1 pool "
            f"alone, {m.notify.in_flight} tasks; httpx: one AsyncClient, "
            f"{m.notify.httpx.records:,} records"
        )
    lines.append(f"elapsed: {elapsed:.0f} s")
    # the kernel's own I/O work shows up here too: about a tenth of the elapsed time
    if other_cpu_s is not None and other_cpu_s > 0.25 * elapsed:
        lines.append(
            f"warning: other processes used {other_cpu_s:.0f} CPU-seconds during the run "
            f"({os.cpu_count()} CPUs); figures are noisier than on an idle machine"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
