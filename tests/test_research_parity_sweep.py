"""Signal replay of a recorded PAPER session agrees 100 %, and a planted change is found; an
event-driven sweep gives the same trials on 2 Dask workers as on 1; the screen logs trials."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from live.convert import convert_to_journal
from research.data import day_range, load_files
from research.parity import signal_replay
from research.screen import screen
from research.sessions import record_session
from research.sources import file_rows
from research.sweep import log_screen, run_grid
from research.trials import trials_of
from updown.cli import app

pytestmark = pytest.mark.xdist_group("research")
TOB = "btc_15m_top_of_book_1s_2025-12-26.csv.gz"


@pytest.fixture
def journal(shared_data, tmp_path) -> Path:
    path = tmp_path / "books.jsonl.gz"
    convert_to_journal("top-of-book", shared_data / TOB, path, fee_rate="0.07")
    return path


def test_signal_replay_of_a_recorded_session_agrees_and_finds_a_planted_change(
    journal, db_url, tmp_path
):
    with psycopg.connect(db_url) as conn:
        session = record_session(conn, [journal], "canary", instance="test")
        report = signal_replay(conn, session)
        assert report.ok, report.text()
        assert [c.total for c in report.categories][:2] == [12, 12]
        with conn.transaction():
            conn.execute(
                "UPDATE decisions SET verdict = 'DENIED', code = 'POSITION_CAP' WHERE id ="
                " (SELECT min(id) FROM decisions WHERE run_id = %s AND verdict = 'APPROVED')",
                (session,),
            )
        planted = signal_replay(conn, session)
    assert not planted.ok
    verdicts = planted.categories[1]
    assert verdicts.matched == 11 and len(verdicts.mismatches) == 1
    assert "session ('DENIED', 'POSITION_CAP'); replay ('APPROVED', None)" in verdicts.mismatches[0]
    env = {"UPDOWN_DATABASE_URL": db_url, "UPDOWN_HOME": str(tmp_path / "h")}
    cli = CliRunner().invoke(app, ["backtest", "--signal-replay", session], env=env)
    assert cli.exit_code == 1 and "risk verdicts: 11/12 match" in cli.output


def test_a_sweep_on_two_dask_workers_gives_the_same_trials_as_on_one(
    shared_data, db_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("UPDOWN_HOME", str(tmp_path / "home"))
    rows = file_rows(shared_data / TOB)
    lo, hi = day_range("2025-12-26")
    grid = {"before_close_s": [30, 60, 120]}
    with psycopg.connect(db_url) as conn:
        one, _ = run_grid("canary", rows, lo, hi, grid, workers=1, conn=conn)
        two, _ = run_grid("canary", rows, lo, hi, grid, workers=2, conn=conn)
        # cells are logged as they finish: compare them in grid order
        first, second = (sorted(trials_of(conn, run), key=lambda t: t[1]["before_close_s"])
                         for run in (one, two))  # fmt: skip
    assert len(first) == 3 and first == second
    assert [t[2]["trades"] for t in first] == [5, 11, 20]
    assert all(kind == "event" for kind, _, _ in first)


def test_the_screen_logs_every_cell_as_a_trial(shared_data, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("UPDOWN_HOME", str(tmp_path / "home"))
    ds = load_files([shared_data / TOB], "2025-12-26")
    frame = screen(ds, [30, 60, 120], [0.5, 0.7])
    assert len(frame) == 6
    row = frame[(frame.before_close_s == 60) & (frame.min_price == 0.5)].iloc[0]
    assert (row.trades, row.wins) == (11, 10)  # the engine's canary: 11 trades, 10 wins
    with psycopg.connect(db_url) as conn:
        sweep = log_screen(conn, frame, *day_range("2025-12-26"))
        logged = trials_of(conn, sweep)
        names = conn.execute("SELECT DISTINCT strategy FROM trials WHERE run_id = %s", (sweep,))
        assert names.fetchall() == [("always-trade-canary",)]  # the rule the screen evaluated
        with pytest.raises(ValueError, match="evaluates only the always-trade-canary rule"):
            log_screen(conn, frame, *day_range("2025-12-26"), strategy="momo")
    assert len(logged) == 6 and {k for k, _, _ in logged} == {"screen"}
