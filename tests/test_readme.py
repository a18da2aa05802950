"""The README's Python examples run as written."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import logway

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README has a Python example"
    env = {"LOGWAY_URL": f"file:{tmp_path / 'data'}", "PATH": "/usr/bin:/bin"}
    outputs = []
    for block in blocks:  # every example runs; the first is the tour of the API
        result = subprocess.run(
            [sys.executable, "-c", block],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert "PartitionLag(" in outputs[0]


def _block(language: str, containing: str) -> str:
    """The README's one ``language`` example that holds ``containing``."""
    blocks = re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.S)
    found: list[str] = [b for b in blocks if containing in b]
    assert len(found) == 1, f"the README has one {language} example with {containing!r}"
    return found[0]


_GOOD_ORDERS = [
    ("alice", 12.5),
    ("alice", 3),
    ("bob", 40),
    ("dave", 7.25),
    ("erin", 9),
    ("dave", 1),
]
ORDERS = [  # (key, value): the bad ones fail alone, not their batch
    *((c, json.dumps({"customer_id": c, "total": t}).encode()) for c, t in _GOOD_ORDERS),
    ("alice", json.dumps({"customer_id": "alice", "total": 1, "test": True}).encode()),
    ("bob", json.dumps({"customer_id": "bob"}).encode()),  # no total
    ("carol", b"not json"),
]


@pytest.mark.slow  # real processes: logway run, then the shell example
def test_readme_queries_run_over_the_lake_of_its_shop_app(tmp_path: Path) -> None:
    """The delivery example, saved as shop.py and run with ``logway run shop:app``,
    writes the lake the SQL examples query; they run as written."""
    (tmp_path / "shop.py").write_text(_block("python", "app.delivery("))
    url = f"file:{tmp_path / 'data'}"
    env = {
        "LOGWAY_URL": url,
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    hour_15 = int(dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC).timestamp() * 1000)
    with logway.connect(url) as broker:
        broker.create_topic("orders", partitions=3)
        broker.create_topic("clicks")
        broker.produce_many(
            "orders",
            [logway.Message(v, k, timestamp=hour_15 + i) for i, (k, v) in enumerate(ORDERS)],
        )
        broker.produce_many(
            "clicks",
            [logway.Message(json.dumps({"page": "/", "ms": 12}).encode(), timestamp=hour_15)],
        )
        holding = {("orders", p) for p, n in broker.end_offsets("orders").items() if n}
        holding.add(("clicks", 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "logway.cli.main", "run", "shop:app"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        buffering: set[tuple[str, int]] = set()
        while buffering != holding:  # every partition with records has read them
            line = process.stderr.readline()
            assert line, "logway run stopped"
            found = re.search(r": (\w+)/(\d+): buffering from offset 0", line)
            if found:
                buffering.add((found.group(1), int(found.group(2))))
    except BaseException:
        process.kill()
        raise
    process.send_signal(signal.SIGINT)  # Ctrl-C: flush every buffer, commit, exit
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err

    shell = subprocess.run(
        ["bash", "-e", "-c", _block("sh", "FROM lake_json(")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shell.returncode == 0, shell.stderr
    lines = shell.stdout.splitlines()  # a table (header, rule, row, count), JSON, a profile
    assert re.match(rf"2026\s+11\s+{len(_GOOD_ORDERS)}\s+72.75$", lines[2]), shell.stdout
    five = json.loads(lines[4])
    assert len(five) == 5 and {"_key", "customer", "total_cents", "_timestamp"} == set(five[0])
    assert re.search(r"Total Files Read: 1\b", "\n".join(lines[5:])), shell.stdout
    clicks = (tmp_path / "clicks.csv").read_text().splitlines()
    assert clicks[0].startswith("page,ms,") and clicks[1].startswith("/,12,")
    failed = [
        json.loads(line)
        for path in (tmp_path / "lake" / "orders" / "errors").rglob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    assert sorted(f["key"] for f in failed) == ["bob", "carol"]
