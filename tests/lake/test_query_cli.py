"""``logway query`` as a user runs it: a real process over a lake in a directory."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import pytest

from tests.lake.lakedata import build_lake

pytestmark = pytest.mark.slow  # a real process per command


class Run(Protocol):
    def __call__(
        self, *args: str, stdin: str | None = None, ok: bool = True, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]: ...


@pytest.fixture(scope="module")
def lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lake")
    build_lake(str(root))
    return root


@pytest.fixture
def run(lake_dir: Path, tmp_path: Path) -> Run:
    env = {k: v for k, v in os.environ.items() if k != "LOGWAY_LAKE"}
    env["LOGWAY_LAKE"] = str(lake_dir)

    def run(
        *args: str, stdin: str | None = None, ok: bool = True, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        raw = subprocess.run(
            [sys.executable, "-m", "logway.cli.main", *args],
            input=None if stdin is None else stdin.encode(),
            capture_output=True,
            env=env,
            cwd=cwd or tmp_path,
            timeout=60,
        )
        # decoded by hand: text mode would turn CSV's CRLF into LF
        result = subprocess.CompletedProcess(
            raw.args, raw.returncode, raw.stdout.decode(), raw.stderr.decode()
        )
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    return run


BY_YEAR = "SELECT year, count(*) AS articles, max(_timestamp) AS last FROM lake('articles') "
BY_YEAR_END = "GROUP BY year ORDER BY year"


def test_table_output(run: Run) -> None:
    out = run("query", BY_YEAR + BY_YEAR_END).stdout
    assert out.splitlines() == [
        "year  articles  last",
        "----  --------  -------------------------",
        "2025         4  2025-12-31T23:01:00+00:00",
        "2026         5  2026-01-01T01:00:00+00:00",
        "(2 rows)",
    ]


def test_csv_output(run: Run) -> None:
    out = run("query", BY_YEAR + BY_YEAR_END, "--format", "csv").stdout
    assert out.split("\n")[0] == "year,articles,last\r"
    assert list(csv.reader(io.StringIO(out, newline=""))) == [
        ["year", "articles", "last"],
        ["2025", "4", "2025-12-31T23:01:00+00:00"],
        ["2026", "5", "2026-01-01T01:00:00+00:00"],
    ]


def test_json_output(run: Run) -> None:
    sql = "SELECT title, lang, _timestamp, year FROM lake('articles') WHERE _offset IN (0, 5)"
    rows = json.loads(run("query", sql + " ORDER BY _offset", "-f", "json").stdout)
    assert rows == [
        {
            "title": "old news",
            "lang": None,
            "_timestamp": "2025-12-31T23:00:00+00:00",
            "year": 2025,
        },
        {"title": "neujahr", "lang": "de", "_timestamp": "2026-01-01T00:01:00+00:00", "year": 2026},
    ]
    assert dt.datetime.fromisoformat(rows[1]["_timestamp"]).tzinfo is not None


def test_explain_shows_the_files_read(run: Run) -> None:
    everything = run("query", "SELECT count(*) FROM lake('articles')", "--explain").stdout
    pruned = run(
        "query", "SELECT count(*) FROM lake('articles') WHERE year = 2026", "--explain"
    ).stdout
    assert "Total Files Read: 5" in everything
    assert "Total Files Read: 3" in pruned


def test_the_lake_flag_stdin_and_the_default_directory(run: Run, lake_dir: Path) -> None:
    sql = "SELECT count(*) AS n FROM lake_json('clicks')"
    assert run("query", "-", "--lake", f"file:{lake_dir}", "-f", "csv", stdin=sql).stdout == (
        "n\r\n4\r\n"
    )
    # without --lake and $LOGWAY_LAKE: ./lake
    cwd = lake_dir.parent / "elsewhere"
    build_lake(str(cwd / "lake"))
    env_less = subprocess.run(
        [sys.executable, "-m", "logway.cli.main", "query", sql, "-f", "json"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={k: v for k, v in os.environ.items() if k != "LOGWAY_LAKE"},
        timeout=60,
    )
    assert env_less.returncode == 0, env_less.stderr
    assert json.loads(env_less.stdout) == [{"n": 4}]
    # $LOGWAY_LAKE names the lake; --lake wins over it
    missing = run("query", "SELECT * FROM lake('articles')", "--lake", str(cwd / "no"), ok=False)
    assert missing.returncode == 1 and "there is no lake at" in missing.stderr


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC 1", 'invalid SQL: Parser Error: syntax error at or near "SELEC"'),
        ("SELECT * FROM lake('nope')", "has no delivery 'nope'; it has: articles, clicks"),
        (
            "SELECT nope FROM lake('articles')",
            'invalid SQL: Binder Error: Referenced column "nope"',
        ),
    ],
)
def test_errors_are_one_line_on_stderr(run: Run, sql: str, message: str) -> None:
    result = run("query", sql, ok=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert result.stderr.startswith("logway: error: ")
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_a_bad_format_is_a_usage_error(run: Run) -> None:
    result = run("query", "SELECT 1", "--format", "xml", ok=False)
    assert result.returncode == 2 and "invalid choice: 'xml'" in result.stderr
