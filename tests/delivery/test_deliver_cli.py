"""Delivery as users run it: ``logway deliver`` into a directory and into a real S3
server, ``logway run`` of an app's delivery stopped by SIGTERM, and bad input refused
with nothing written."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import logway
from logway.objectstore import open_store
from tests.servers import logway_cli as _cli

pytestmark = pytest.mark.slow  # real processes and an S3 server


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {
        **os.environ,
        "LOGWAY_URL": f"file:{tmp_path / 'data'}",
        "PYTHONPATH": str(tmp_path),
    }
    assert _cli(environment, "topics", "create", "orders", "--partitions", "2").returncode == 0
    lines = "".join(json.dumps({"order": n, "customer": f"c{n % 3}"}) + "\n" for n in range(30))
    done = _cli(environment, "produce", "orders", stdin=lines)
    assert done.returncode == 0, done.stderr
    return environment


def _rows(store_url: str) -> list[dict[str, object]]:
    store = open_store(store_url)
    rows: list[dict[str, object]] = []
    for info in store.list():
        if info.path.endswith(".parquet"):
            rows += pq.read_table(io.BytesIO(store.get(info.path))).to_pylist()
    return sorted(rows, key=lambda r: r["order"])  # type: ignore[arg-type, return-value]


def test_deliver_once_into_a_directory_and_again_only_the_new(
    env: dict[str, str], tmp_path: Path
) -> None:
    lake = tmp_path / "lake" / "orders"
    first = _cli(
        env, "deliver", "orders", str(lake), "--once", "--prefix", "customer={value.customer}/"
    )
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stderr.strip().splitlines()[-1])["records_delivered"] == 30
    assert sorted(p.name for p in lake.iterdir()) == [
        "_logway",
        "customer=c0",
        "customer=c1",
        "customer=c2",
    ]
    assert [r["order"] for r in _rows(str(lake))] == list(range(30))
    more = "".join(json.dumps({"order": n, "customer": "c0"}) + "\n" for n in range(30, 35))
    assert _cli(env, "produce", "orders", stdin=more).returncode == 0
    again = _cli(
        env, "deliver", "orders", str(lake), "--once", "--prefix", "customer={value.customer}/"
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stderr.strip().splitlines()[-1])["records_in"] == 5
    assert [r["order"] for r in _rows(str(lake))] == list(range(35))


def test_deliver_into_s3(env: dict[str, str], s3_bucket: str) -> None:
    # the child process reads the same AWS variables (the fixture set them here)
    env = {**env, **{k: v for k, v in os.environ.items() if k.startswith("AWS_")}}
    url = f"s3://{s3_bucket}/lake/orders"
    done = _cli(env, "deliver", "orders", url, "--once", "--compression", "zstd")
    assert done.returncode == 0, done.stderr
    names = [o.path for o in open_store(url).list()]
    assert any(n.startswith("year=") and n.endswith(".parquet") for n in names), names
    assert [r["order"] for r in _rows(url)] == list(range(30))


@pytest.mark.parametrize(
    "args, message",
    [
        (["orders", "ftp://x/y"], "unknown destination scheme 'ftp'"),
        (["orders", "LAKE", "--buffer-size", "500MB"], "buffer_size must be 1 MB to 128 MB"),
        (["orders", "LAKE", "--prefix", "{when}/"], "unknown placeholder {when}"),
        (["no-such-topic", "LAKE"], "no-such-topic"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    lake = tmp_path / "lake"
    done = _cli(env, "deliver", *[str(lake) if a == "LAKE" else a for a in args], "--once")
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert not lake.exists()
    with logway.connect(env["LOGWAY_URL"]) as broker:
        assert "logway-deliver.orders" not in broker.list_groups()


APP = """
import logway

app = logway.App("shop")
app.topic("orders", partitions=2)
app.delivery("orders", to={lake!r}, buffer_interval="900s", format="jsonl")
"""


def test_logway_run_flushes_its_deliveries_on_sigterm(env: dict[str, str], tmp_path: Path) -> None:
    lake = tmp_path / "lake" / "orders"
    (tmp_path / "shopapp.py").write_text(APP.format(lake=str(lake)))
    with logway.connect(env["LOGWAY_URL"]) as broker:
        holding = {p for p, end in broker.end_offsets("orders").items() if end > 0}
    process = subprocess.Popen(
        [sys.executable, "-m", "logway.cli.main", "run", "shopapp:app"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        assert "orders <- orders -> " in process.stdout.readline()
        buffering: set[int] = set()
        while buffering != holding:  # every partition with records has read them
            line = process.stderr.readline()
            assert line, "logway run stopped"
            if "buffering from offset 0" in line:
                buffering.add(int(line.split(": ")[1].split("/")[1]))
    except BaseException:
        process.kill()
        raise
    # the interval is 15 minutes off: only the shutdown flush writes the files
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    lines = [
        json.loads(x) for p in sorted(lake.rglob("*.jsonl")) for x in p.read_text().splitlines()
    ]
    assert sorted(line["order"] for line in lines) == list(range(30))
