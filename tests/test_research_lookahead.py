"""A strategy that peeks is caught: by the view when it asks it for the future, and by the
look-ahead check when it finds the future some other way (here: the driver's event list)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from live.kernel.domain import Outcome
from live.kernel.events import BookSnapshot
from live.kernel.strategy import EntryTiming, LookAheadError, Strategy, WindowView
from research.backtest import run_backtest
from research.data import load_files
from research.lookahead import check_lookahead
from updown.cli import app

TOB = "btc_15m_top_of_book_1s_2025-12-26.csv.gz"
T60 = EntryTiming(before_close_ms=60_000)


@dataclass(frozen=True, slots=True)
class AsksTheViewForTheClose(Strategy):
    def evaluate(self, view: WindowView):
        view.oracle_ticks(view.window.open_ts, view.window.close_ts)  # the future: raises
        return None


@dataclass(frozen=True, slots=True)
class ReadsTheDriversEvents(Strategy):
    """Walks up the stack to the replay loop's event list and buys the side that is ahead in
    the last Up book before the close — data the engine has not delivered yet."""

    def evaluate(self, view: WindowView):
        frame = sys._getframe(1)
        while frame is not None and not isinstance(frame.f_locals.get("events"), list):
            frame = frame.f_back
        books = [e for e in frame.f_locals["events"] if type(e) is BookSnapshot]
        last = [
            e for e in books if e.token_id == view.window.token_up and e.ts < view.window.close_ts
        ]
        if not last or not last[-1].bids:
            return None
        side = Outcome.UP if last[-1].bids[0][0] > 0.5 else Outcome.DOWN
        from decimal import Decimal

        return view.signal(side, Decimal("1"), reason="peeked")


@pytest.fixture(scope="module")
def day():
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
    return load_files([shared / TOB], "2025-12-26", use_cache=False)


def test_the_view_refuses_data_after_now(day):
    with pytest.raises(LookAheadError, match="look-ahead"):
        run_backtest(AsksTheViewForTheClose(name="peek-view", timing=T60), day)


def test_the_view_cannot_be_moved_forward(day):
    view = WindowView(0, day.items[0][2].window, None, None, None, AsksTheViewForTheClose("x"))
    with pytest.raises(LookAheadError, match="read-only"):
        view.now = 10**13


def test_the_lookahead_check_catches_a_strategy_reading_future_events(day):
    report = check_lookahead(ReadsTheDriversEvents(name="peek-events", timing=T60), day)
    assert not report.ok
    assert report.divergence.startswith("first divergent decision at ts=")
    assert "btc-updown-15m-" in report.divergence


def test_the_canary_passes_the_lookahead_check_and_the_run_keeps_it(shared_data, tmp_path, db_url):
    """The result and the excluded windows are saved with the run; the dashboard's backtest-runs
    columns (panel_app.views.trades.runs_frame) show them."""
    import pandas as pd
    import psycopg

    from panel_app.views.trades import runs_frame

    args = ["backtest", "canary", "--data", str(shared_data / TOB), "--from", "2025-12-26",
            "--check-lookahead"]  # fmt: skip
    env = {"UPDOWN_HOME": str(tmp_path), "UPDOWN_DATABASE_URL": db_url}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "look-ahead check passed: 12 decisions" in result.output
    with psycopg.connect(db_url) as conn:
        runs = pd.DataFrame(
            conn.execute(
                "SELECT run_id, kind, mode, strategy, summary, fill_model, latency_ms"
                " FROM backtest_runs WHERE kind = 'backtest'"
            ).fetchall(),
            columns=["run_id", "kind", "mode", "strategy", "summary", "fill_model", "latency_ms"],
        )
    shown = runs_frame(runs).iloc[0]
    assert shown["integrity (look-ahead check)"].startswith("passed: 12 decisions")
    excluded = runs.iloc[0]["summary"]["excluded_windows"]
    assert f"{len(excluded)} excluded" in shown["data (windows used / excluded)"]
