"""``logway.connect``: URL schemes, defaults, the environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import logway
from logway.backends.embedded import EmbeddedBroker


def test_memory_is_a_temporary_directory_removed_on_close() -> None:
    broker = logway.connect("memory:")
    assert isinstance(broker, EmbeddedBroker)
    path = broker.path
    broker.create_topic("t")
    broker.produce("t", b"x")
    assert os.path.isdir(path)
    broker.close()
    assert not os.path.exists(path)


def test_file_url_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGWAY_URL", f"file:{tmp_path / 'envdata'}")
    with logway.connect() as broker:
        broker.create_topic("t")
    assert (tmp_path / "envdata" / "topics" / "t").is_dir()
    with logway.connect(f"file://{tmp_path / 'slashes'}") as broker:
        assert broker.list_topics() == []
    assert (tmp_path / "slashes").is_dir()


def test_default_is_logway_data_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOGWAY_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with logway.connect() as broker:
        assert broker.url == "file:./logway-data"
    assert (tmp_path / "logway-data").is_dir()


@pytest.mark.parametrize("url", ["redis://x", "nothing", "file:"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(logway.InvalidArgumentError) as err:
        logway.connect(url)
    if url != "file:":
        assert isinstance(err.value, logway.UnknownSchemeError)
        assert "file:" in str(err.value) and "memory:" in str(err.value)


def test_broker_satisfies_the_protocol() -> None:
    with logway.connect("memory:") as broker:
        assert isinstance(broker, logway.Broker)
        broker.create_topic("t")
        with broker.consumer("t") as consumer:
            assert isinstance(consumer, logway.Consumer)


def test_bad_fsync_default_is_refused(tmp_path: Path) -> None:
    with pytest.raises(logway.InvalidArgumentError, match="fsync"):
        logway.connect(f"file:{tmp_path}", fsync="maybe")
