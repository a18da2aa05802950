"""One data directory, many processes: while one logway process owns ``file:PATH``,
others opening it talk to the owner over its Unix socket with the same API, errors
and semantics; when the owner dies, the next process to open the directory owns it,
and the others follow it there. Real processes throughout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import logway
from logway.datadir import DirectoryClient, OwnerGoneError, socket_path
from logway.errors import DataDirLockedError, InvalidArgumentError, UnknownTopicError
from tests.servers import DirectoryOwner, logway_cli, logway_process

pytestmark = pytest.mark.slow  # real processes

APP = """
import logway

app = logway.App("shop")
app.topic("orders", partitions=2)


@app.function("orders", starting_position="earliest")
def handle(batch):
    pass
"""


def _owner(url: str) -> DirectoryOwner:
    """A process that owns ``url`` (with a topic ``t`` of 2 partitions)."""
    owner = DirectoryOwner(Path(url.removeprefix("file:"))).start()
    with logway.connect(url) as broker:
        broker.create_topic("t", partitions=2)
    return owner


def test_a_second_process_uses_the_owners_log(tmp_path: Path) -> None:
    url = f"file:{tmp_path / 'data'}"
    owner = _owner(url)
    try:
        with logway.connect(url) as broker:
            assert isinstance(broker, DirectoryClient)
            meta = broker.produce("t", b"v", key="alice", partition=0)
            assert broker.fetch("t", meta.partition, meta.offset)[0].value == b"v"
            with pytest.raises(UnknownTopicError):  # the owner's errors, as they are
                broker.describe_topic("missing")
            with pytest.raises(UnknownTopicError):
                broker.produce("missing", b"x")
            assert broker.list_topics() == ["t"]  # nothing was created by the bad calls
            with pytest.raises(InvalidArgumentError, match="owned by process"):
                logway.connect(url, retention_ms="1d")
        env = {**os.environ, "LOGWAY_URL": url}
        produced = logway_cli(env, "produce", "t", "-p", "1", stdin="one\ntwo\n")
        assert produced.returncode == 0, produced.stderr
        consumed = logway_cli(env, "consume", "t", "--from-beginning", "--partition", "1")
        assert consumed.returncode == 0, consumed.stderr
        assert consumed.stdout.split() == ["one", "two"]
    finally:
        assert owner.stop() == 0
    assert not os.path.exists(socket_path(str(tmp_path / "data")))  # the owner tidied up
    with logway.connect(url) as broker:  # and the next process owns the directory
        assert not isinstance(broker, DirectoryClient)
        assert broker.end_offsets("t")[1] == 2


def test_an_owner_that_does_not_share_is_still_an_error(tmp_path: Path) -> None:
    url = f"file:{tmp_path / 'data'}"
    with logway.connect(url, share=False):
        code = f"import logway; logway.connect({url!r})"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode != 0
        assert "DataDirLockedError" in result.stderr
        assert f"in use by process {os.getpid()}" in result.stderr


def test_a_client_of_an_owner_that_died_gets_a_clear_error(tmp_path: Path) -> None:
    url = f"file:{tmp_path / 'data'}"
    owner = _owner(url)
    with logway.connect(url) as broker:
        assert isinstance(broker, DirectoryClient)
        broker.reconnect_timeout = 0.5
        broker.produce("t", b"acknowledged")
        assert owner.process is not None
        owner.process.kill()
        owner.process.wait()
        started = time.monotonic()
        with pytest.raises(OwnerGoneError, match="open the directory again"):
            broker.produce("t", b"never acknowledged")
        assert time.monotonic() - started < 30  # bounded: never a hang
    with logway.connect(url) as broker:  # the next process takes over; recovery ran
        assert not isinstance(broker, DirectoryClient)
        records = [r.value for p in (0, 1) for r in broker.fetch("t", p, 0)]
        assert records == [b"acknowledged"]


def test_owner_killed_mid_stream_loses_no_acknowledged_record(tmp_path: Path) -> None:
    """``logway run`` owns the directory; ``logway consume -f`` and ``logway produce``
    run in other processes; the owner is SIGKILLed while they work and started again.
    Every record a produce acknowledged (exit 0) is in the log, and the consumer,
    which followed the directory to its new owner, printed every one of them."""
    (tmp_path / "shopapp.py").write_text(APP)
    url = f"file:{tmp_path / 'data'}"
    env = {**os.environ, "LOGWAY_URL": url, "PYTHONPATH": str(tmp_path)}

    def run_app() -> subprocess.Popen[str]:
        process = logway_process(env, "run", "shopapp:app", cwd=tmp_path, stderr=subprocess.DEVNULL)
        assert process.stdout is not None
        assert "logway running shop" in process.stdout.readline()
        return process

    owner = run_app()
    consumer = logway_process(env, "consume", "orders", "-f", "--from-beginning")
    seen: list[str] = []
    changed = threading.Condition()

    def read() -> None:
        assert consumer.stdout is not None
        for line in consumer.stdout:
            with changed:
                seen.append(line.strip())
                changed.notify_all()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    acknowledged: list[str] = []
    failed = 0
    try:
        for round_ in range(12):
            if round_ == 4:
                owner.send_signal(signal.SIGKILL)  # mid-stream: the others are working
                owner.wait()
            if round_ == 6:
                owner = run_app()  # the next owner; recovery runs
            values = [f"r{round_}-{i}" for i in range(20)]
            produced = logway_cli(env, "produce", "orders", stdin="\n".join(values) + "\n")
            if produced.returncode == 0:
                acknowledged += values
            else:  # the owner was gone and none came back in time: a clear error
                failed += 1
                assert "OwnerGoneError" in produced.stderr or "owned" in produced.stderr, (
                    produced.stderr
                )
        assert len(acknowledged) >= 8 * 20  # rounds with a live owner all succeeded
        with changed:  # the consumer followed the directory to its new owner
            assert changed.wait_for(lambda: set(acknowledged) <= set(seen), timeout=60), sorted(
                set(acknowledged) - set(seen)
            )[:10]
    finally:
        consumer.send_signal(signal.SIGTERM)
        consumer.wait(30)
        owner.send_signal(signal.SIGTERM)
        assert owner.wait(30) == 0
    stored = logway_cli(env, "consume", "orders", "--from-beginning").stdout.split()
    assert set(acknowledged) <= set(stored)


def test_a_socket_path_too_long_for_unix_sockets_moves_to_the_temp_dir(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    path = socket_path(str(deep))
    assert len(path.encode()) <= 100 and not path.startswith(str(deep))
    assert socket_path(str(deep)) == path  # the same directory, the same socket
    assert socket_path(str(tmp_path / "x")) == str(tmp_path / "x" / ".logway.sock")
    url = f"file:{deep}"
    owner = _owner(url)
    try:
        with logway.connect(url) as broker:
            assert isinstance(broker, DirectoryClient)
            assert broker.list_topics() == ["t"]
    finally:
        assert owner.stop() == 0


def test_the_lock_error_of_a_non_sharing_owner_names_it(tmp_path: Path) -> None:
    url = f"file:{tmp_path}"
    with logway.connect(url, share=False), pytest.raises(DataDirLockedError):
        logway.connect(url)
