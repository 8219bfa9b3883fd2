"""`updown demo` (the main job) starts the sandbox and the live runner against the database,
prints where everything is, and stops all of it cleanly."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from tests_support import free_port


@pytest.mark.xdist_group("demo")
def test_demo_starts_everything_and_stops_cleanly(db_url):
    sandbox_port, health_port = free_port(), free_port()
    env = {**os.environ, "UPDOWN_DATABASE_URL": db_url}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "updown.cli",
            "demo",
            "--duration",
            "25",
            "--no-dashboard",
            "--sandbox-port",
            str(sandbox_port),
            "--health-port",
            str(health_port),
            "--window-seconds",
            "20",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"http://127.0.0.1:{sandbox_port}" in out
    assert f"http://127.0.0.1:{health_port}/health" in out
    assert "ACTIVE trader" in out  # at least one status line from the live runner's health
    assert "demo stopped" in out
    with psycopg.connect(db_url) as conn:
        controls = dict(conn.execute("SELECT key, value FROM runtime_controls").fetchall())
        roles = conn.execute("SELECT role FROM instances").fetchall()
        windows = conn.execute("SELECT count(*) FROM windows").fetchone()[0]
        audit = conn.execute(
            "SELECT count(*) FROM control_changes WHERE changed_by = 'demo'"
        ).fetchone()[0]
    assert controls["trading_mode"] == "LIVE" and audit >= 1
    assert roles == [("stopped",)]  # the runner shut down and said so
    assert windows >= 2
