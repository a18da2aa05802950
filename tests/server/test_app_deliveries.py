"""``logway serve --app`` runs the app's delivery streams inside the server, and a
SIGTERM flushes their buffers before the server exits."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

import logway
from tests.servers import LogwayServer

pytestmark = pytest.mark.slow  # a server process

APP = """
import logway

app = logway.App("served")
app.topic("clicks", partitions=2)
app.delivery("clicks", to={lake!r}, buffer_interval="900s")
"""


def test_served_app_delivers_and_flushes_on_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = tmp_path / "lake" / "clicks"
    (tmp_path / "servedapp.py").write_text(APP.format(lake=str(lake)))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    server = LogwayServer(tmp_path / "data", "--app", "servedapp:app")
    server.start()
    try:
        with logway.connect(server.url) as broker:
            broker.produce_many("clicks", [json.dumps({"n": i}) for i in range(20)])
        deadline = time.monotonic() + 30
        buffered = 'logway_delivery_records_buffered{delivery="served.clicks"} 20'
        while buffered not in (metrics := httpx.get(f"{server.http}/metrics").text):
            assert time.monotonic() < deadline, f"the served delivery did not read:\n{metrics}"
            time.sleep(0.05)  # the server works meanwhile
        assert 'logway_delivery_objects_total{delivery="served.clicks"} 0' in metrics
        assert 'logway_delivery_lag{delivery="served.clicks",topic="clicks",partition="0"}' in (
            metrics
        )
        assert not list(lake.rglob("*.parquet"))  # 15 minutes to go: nothing written yet
    finally:
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(60)
    assert server.process.returncode == 0
    rows = [row for p in lake.rglob("*.parquet") for row in pq.read_table(p).to_pylist()]
    assert sorted(row["n"] for row in rows) == list(range(20))
    with logway.connect(f"file:{tmp_path / 'data'}") as broker:
        done = broker.committed("served.clicks", "clicks")
        assert done == {
            logway.TopicPartition("clicks", p): end
            for p, end in broker.end_offsets("clicks").items()
        }
