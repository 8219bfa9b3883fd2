"""The real shared days imported into the DB and backtested end to end with the canary; the
windows, signals, trades and wins match an independent count made with pandas from the raw files."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from updown.cli import app

TOB = "btc_15m_top_of_book_1s_2025-12-26.csv.gz"
GAMMA = "gamma_btc_5m_markets_2026-06-08.jsonl.gz"
ORACLE = "chainlink_btcusd_2026-06-08.csv.gz"

pytestmark = pytest.mark.xdist_group("research")


def _mid(bid: float, ask: float) -> float | None:
    return (bid + ask) / 2 if bid > 0 and ask > 0 else None


def _value(bid: float, ask: float) -> float | None:
    return _mid(bid, ask) or (bid if bid > 0 else ask if ask > 0 else None)


def independent_canary_count(path) -> dict[str, int]:
    """Straight from the CSV: at the first row at or after T−60 s the Up book is that row's,
    the Down book still the previous row's (the engine applies Up then Down); buy the side whose
    price is above 0.50 at its ask if the ask exists and is ≤ 0.99; win if the book at the close
    says so."""
    df = pd.read_csv(path)
    for col in ("Timestamp", "TargetTime", "Expiration"):
        df[col] = pd.to_datetime(df[col])
    df = df.sort_values("Timestamp", kind="stable")
    counts = {"windows": 0, "signals": 0, "trades": 0, "wins": 0}
    for _, w in df.groupby("TargetTime"):
        counts["windows"] += 1
        rows = w.reset_index(drop=True)
        due = rows["Expiration"].iloc[0] - pd.Timedelta(seconds=60)
        i = int((rows["Timestamp"] < due).sum())
        if i >= len(rows):
            continue
        now, prev = rows.iloc[i], rows.iloc[max(i - 1, 0)]
        up = _mid(now.UpBid, now.UpAsk)
        if up is None:
            down = _mid(prev.DownBid, prev.DownAsk)
            up = None if down is None else 1 - down
        if up is None or up == 0.5:
            continue
        side = "UP" if up > 0.5 else "DOWN"
        ask = now.UpAsk if side == "UP" else prev.DownAsk
        counts["signals"] += 1
        if not (0 < ask <= 0.99):
            continue
        counts["trades"] += 1
        last = rows.iloc[-1]
        final = _value(last.UpBid, last.UpAsk)
        if final is None:
            final = 1 - _value(last.DownBid, last.DownAsk)
        counts["wins"] += (final > 0.5) == (side == "UP")
    return counts


def independent_gamma_windows(path, day_start: int, day_end: int) -> int:
    with gzip.open(path, "rt") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return sum(1 for r in rows if day_start <= r["start_sec"] and r["end_sec"] <= day_end)


def test_real_days_import_and_backtest_match_independent_counts(shared_data, db_url, tmp_path):
    env = {"UPDOWN_DATABASE_URL": db_url, "UPDOWN_HOME": str(tmp_path / "home")}
    runner = CliRunner()
    files = [str(shared_data / n) for n in (TOB, GAMMA, ORACLE)]
    imported = runner.invoke(app, ["data", "import", *files], env=env)
    assert imported.exit_code == 0, imported.output
    again = runner.invoke(app, ["data", "import", str(shared_data / TOB)], env=env)
    assert again.output.strip().endswith("0 new"), again.output  # idempotent
    listing = runner.invoke(app, ["data", "ls"], env=env)
    assert "2025-12-26 clob" in listing.output and "2026-06-08 chainlink" in listing.output

    out = tmp_path / "out"
    args = [
        "backtest",
        "canary",
        "--from",
        "2025-12-26",
        "--to",
        "2026-06-08",
        "--out",
        str(out),
        "--no-html",
    ]  # the HTML report: tests/test_backtest_report.py
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    expected = independent_canary_count(shared_data / TOB)
    # the range 2025-12-26 .. 2026-06-08 (inclusive) in epoch seconds
    gamma_windows = independent_gamma_windows(shared_data / GAMMA, 1766707200, 1780963200)
    assert expected == {"windows": 32, "signals": 12, "trades": 11, "wins": 10}
    assert summary["windows_used"] == expected["windows"]
    assert summary["signals"] == expected["signals"]
    assert summary["trades"] == expected["trades"]
    assert summary["wins"] == expected["wins"]
    # The Gamma/Chainlink day has no CLOB data: every window is excluded, with its reason.
    assert summary["windows_excluded"] == gamma_windows == 289
    assert summary["excluded_reasons"] == {"no CLOB data (nothing to fill against)": 289}
    assert "excluded btc-updown-5m-" in result.output
    trades = pd.read_csv(out / "trades.csv")
    assert len(trades) == 11 and (out / "equity.png").stat().st_size > 0
    for key in ("windows_tainted", "win_rate", "pnl_gross", "pnl_net", "max_drawdown"):
        assert key in summary

    with __import__("psycopg").connect(db_url) as conn:
        run = conn.execute(
            "SELECT kind, mode, fill_model FROM backtest_runs WHERE run_id = %s",
            (summary["run_id"],),
        ).fetchone()
        positions = conn.execute(
            "SELECT count(*) FROM positions WHERE run_id = %s AND mode = 'BACKTEST'",
            (summary["run_id"],),
        ).fetchone()[0]
    assert run == ("backtest", "BACKTEST", "book") and positions == 11
