"""Issue 6: signal replay of ONE real recorded sandbox session (tests/real_session.py) — the PAPER
copy of a LIVE(sandbox) canary run. The runner journals that engine's every input in dispatch
order (`market_events` kind 'engine_input': feed messages and its own timers, window listings,
resolutions and control changes); `updown backtest --signal-replay RUN` replays them through a
fresh engine and must agree 100 % on signals, risk verdicts and exits. A verdict changed in a
copy of the database is found, listed, and makes the command exit 1."""

from __future__ import annotations

import os
import re

import psycopg
import pytest
from real_session import GROUP, real_session, session_copy  # noqa: F401 - fixtures
from typer.testing import CliRunner

from updown.cli import app

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(GROUP)]


def replay(url: str, run_id: str, tmp_path):
    env = {**os.environ, "UPDOWN_DATABASE_URL": url, "UPDOWN_HOME": str(tmp_path / "home")}
    return CliRunner().invoke(app, ["backtest", "--signal-replay", run_id], env=env)


def counts(output: str) -> dict[str, tuple[int, int]]:
    found = re.findall(r"^\s+([a-z ]+): (\d+)/(\d+) match", output, flags=re.M)
    return {name: (int(a), int(b)) for name, a, b in found}


def test_signal_replay_of_the_real_paper_session_agrees_100_percent(real_session, tmp_path):  # noqa: F811
    run = real_session.runs["PAPER"]
    result = replay(real_session.url, run, tmp_path)
    assert result.exit_code == 0, result.output
    got = counts(result.output)
    with psycopg.connect(real_session.url) as conn:
        (signals,) = conn.execute(
            "SELECT count(*) FROM signals WHERE run_id = %s", (run,)
        ).fetchone()
    assert got["signals"] == (signals, signals) and signals >= 6, result.output
    assert got["risk verdicts"][0] == got["risk verdicts"][1] >= 6
    assert got["exits"][0] == got["exits"][1] >= 6  # every position's EXPIRY
    assert "mismatch" not in result.output


def test_a_planted_verdict_change_is_detected_and_listed(real_session, session_copy, tmp_path):  # noqa: F811
    run = real_session.runs["PAPER"]
    with psycopg.connect(session_copy) as conn:
        (signal_id,) = conn.execute(
            "UPDATE decisions SET verdict = 'DENIED', code = 'POSITION_CAP' WHERE id = (SELECT "
            "min(id) FROM decisions WHERE run_id = %s AND verdict = 'APPROVED') RETURNING "
            "signal_id",
            (run,),
        ).fetchone()
    result = replay(session_copy, run, tmp_path)
    assert result.exit_code == 1, result.output
    matched, total = counts(result.output)["risk verdicts"]
    assert matched == total - 1
    assert (
        f"mismatch: {signal_id}: session ('DENIED', 'POSITION_CAP'); replay ('APPROVED', None)"
        in result.output
    )
