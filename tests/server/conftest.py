from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import LogwayServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LogwayServer]:
    """One real ``logway serve`` process for the module's tests (topics are unique)."""
    data: Path = tmp_path_factory.mktemp("server") / "data"
    server = LogwayServer(data)
    server.start()
    yield server
    assert server.stop() == 0, "".join(server.output)
