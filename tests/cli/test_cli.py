"""The ``logway`` command, run as a user runs it: a real process per command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a real process per command


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {**os.environ, "LOGWAY_URL": f"file:{tmp_path / 'data'}"}

    def run(
        *args: str, stdin: str | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "logway.cli.main", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    return run


def test_topics_lifecycle(run) -> None:  # type: ignore[no-untyped-def]
    assert (
        "3 partition"
        in run("topics", "create", "orders", "-p", "3", "-c", "retention_ms=1d").stdout
    )
    assert run("topics", "list").stdout.split() == ["orders"]
    described = run("topics", "describe", "orders").stdout
    assert "retention_ms = 86400000" in described and "PARTITION" in described
    run("topics", "delete", "orders")
    assert run("topics", "list").stdout.strip() == ""


def test_produce_and_consume_with_keys_and_headers(run) -> None:  # type: ignore[no-untyped-def]
    run("topics", "create", "events", "-p", "2")
    result = run(
        "produce",
        "events",
        "-K",
        ":",
        "-H",
        "src=cli",
        "-H",
        "v=1",
        stdin="alice:hello\nbob:world\nno key here\n",
    )
    assert "produced 3 record(s)" in result.stderr
    lines = run("consume", "events", "--from-beginning", "--format", "json").stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert sorted(r["value"] for r in records) == ["hello", "no key here", "world"]
    by_value = {r["value"]: r for r in records}
    assert by_value["hello"]["key"] == "alice" and by_value["no key here"]["key"] is None
    assert by_value["world"]["headers"] == [["src", "cli"], ["v", "1"]]
    raw = run("consume", "events", "-b", "-K", "=").stdout.splitlines()
    assert sorted(raw) == ["=no key here", "alice=hello", "bob=world"]


def test_consume_from_offset_partition_and_time(run) -> None:  # type: ignore[no-untyped-def]
    run("topics", "create", "t")
    run("produce", "t", stdin="".join(f"line {i}\n" for i in range(10)))
    assert run("consume", "t", "-p", "0", "-o", "7").stdout.splitlines() == [
        "line 7",
        "line 8",
        "line 9",
    ]
    assert run("consume", "t", "--since", "1h", "-n", "2").stdout.splitlines() == [
        "line 0",
        "line 1",
    ]
    late = run("consume", "t", "--since", "2999-01-01T00:00:00")
    assert late.stdout == "" and "no records at or after 2999-01-01T00:00:00" in late.stderr
    assert run("consume", "t", "-p", "0", "-o", "10").stdout == ""


def test_consume_that_prints_nothing_says_why_on_stderr(run) -> None:  # type: ignore[no-untyped-def]
    run("topics", "create", "t")
    run("topics", "create", "empty")
    run("produce", "t", stdin="a\nb\nc\n")
    new_only = run("consume", "t")  # default: only new records
    assert new_only.stdout == ""
    assert new_only.stderr == (
        "logway consume: no records after the end offsets of t (3 record(s) before them); "
        "add --from-beginning to read from the start or -f to wait for new ones\n"
    )
    assert "empty holds no records; add -f" in run("consume", "empty", "-b").stderr
    assert run("consume", "t", "-g", "readers", "-b").stdout.split() == ["a", "b", "c"]
    done = run("consume", "t", "-g", "readers")
    assert done.stdout == "" and "group readers has read every record of t" in done.stderr
    assert "groups reset readers --topic t --to earliest" in done.stderr
    assert run("consume", "t", "-b").stderr == ""  # printed records: nothing to explain


def test_groups_describe_and_reset(run) -> None:  # type: ignore[no-untyped-def]
    run("topics", "create", "t")
    run("produce", "t", stdin="a\nb\nc\nd\n")
    assert run("consume", "t", "-b", "-g", "readers", "-n", "3").stdout.split() == ["a", "b", "c"]
    assert run("groups", "list").stdout.split() == ["readers"]
    described = run("groups", "describe", "readers").stdout
    assert "total lag: 1" in described
    assert "t/0 -> 1" in run("groups", "reset", "readers", "-t", "t", "--to", "1").stdout
    assert run("consume", "t", "-g", "readers").stdout.split() == ["b", "c", "d"]
    assert "total lag: 0" in run("groups", "describe", "readers").stdout


def test_check_reports_a_healthy_log(run) -> None:  # type: ignore[no-untyped-def]
    run("topics", "create", "t")
    run("produce", "t", stdin="x\ny\n")
    result = run("check")
    assert "2 record(s)" in result.stdout and "no problems found" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["topics", "create", "bad name"], "use only letters"),
        (["topics", "describe", "missing"], "unknown topic 'missing'"),
        (["consume", "missing"], "unknown topic"),
        (["produce", "missing"], "unknown topic"),
        (["consume", "t", "-o", "3"], "--offset needs --partition"),
        (["consume", "t", "-p", "0", "-o", "99"], "out of range"),
        (["consume", "t", "--since", "whenever"], "cannot read 'whenever' as a time"),
        (["consume", "t", "-n", "0"], "--max-records must be at least 1"),
        (["groups", "describe", "nobody"], "no committed offsets"),
        (["topics", "create", "x", "-c", "nonsense"], "NAME=VALUE"),
        (["--url", "ftp://host", "topics", "list"], "known schemes: file:, memory:"),
    ],
)
def test_errors_are_one_line_on_stderr(run, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    run("topics", "create", "t")
    result = run(*args, ok=False, stdin="")
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_demo_produces_consumes_and_prints_lag(run) -> None:  # type: ignore[no-untyped-def]
    out = run("demo").stdout
    assert "created topic demo.orders" in out and "LAG" in out
    second = run("demo").stdout
    assert "exists; appending" in second
    assert "offset 4" in second  # offsets keep growing across runs
