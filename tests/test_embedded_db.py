"""The embedded PostgreSQL starts race-free: any number of processes (test workers, the runner,
the dashboard, the CLI) may start it at once on a fresh directory and all get the one server."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from live.store import db

PROCESSES = 8
ROUNDS = 3


def _start_and_query(home: str) -> tuple[str, int]:
    """In a fresh process: start (or join) the server, return its URL and its postmaster pid."""
    url = db.embedded_url(Path(home))
    with psycopg.connect(url) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert pid > 0
    return url, int((Path(home) / "pg" / "postmaster.pid").read_text().split()[0])


def _stop(home: Path) -> None:
    """Fast shutdown of the server under `home` (SIGINT to its postmaster), then remove it."""
    pidfile = home / "pg" / "postmaster.pid"
    if pidfile.exists():
        pid = int(pidfile.read_text().split()[0])
        try:
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.1)
        except ProcessLookupError:
            pass
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow
def test_eight_processes_start_the_embedded_server_at_once_on_a_fresh_directory():
    ctx = multiprocessing.get_context("spawn")
    for _ in range(ROUNDS):
        # A short path: the server's socket lives in its data directory (107-byte limit).
        home = Path(tempfile.mkdtemp(prefix="ud-pg-"))
        try:
            with ctx.Pool(PROCESSES) as pool:
                answers = pool.map(_start_and_query, [str(home)] * PROCESSES)
            assert len({url for url, _ in answers}) == 1  # one server, one URL
            assert len({pid for _, pid in answers}) == 1  # one postmaster
            assert sorted(p.name for p in home.iterdir()) == ["pg", "pg.lock"]
        finally:
            _stop(home)


def test_a_foreign_directory_in_place_of_the_data_directory_is_refused_by_name(tmp_path):
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "notes.txt").write_text("not a database")
    with pytest.raises(db.EmbeddedDatabaseError, match="not a PostgreSQL data directory"):
        db.embedded_url(tmp_path)
    assert (tmp_path / "pg" / "notes.txt").read_text() == "not a database"  # nothing lost


def test_an_interrupted_first_start_is_cleaned_up_and_started_afresh():
    home = Path(tempfile.mkdtemp(prefix="ud-pg-"))
    try:
        leftover = home / "pg.init-999999"  # a staging directory whose initdb was killed
        leftover.mkdir()
        (leftover / "PG_VERSION").write_text("18\n")
        url = db.embedded_url(home)
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert not leftover.exists()
    finally:
        _stop(home)
