"""The backtest report (issue 18 item 1): `updown backtest --out` prints the summary tables and
writes summary.json, trades.csv and an HTML report whose figures equal an independent pandas
computation on the same trades; positions still open at the end are reported, not dropped."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from updown.cli import app

pytestmark = pytest.mark.xdist_group("research")
TOB = "btc_15m_top_of_book_1s_2025-12-26.csv.gz"


def independent(trades: pd.DataFrame, balance: float = 100.0) -> dict:
    """The report's figures recomputed from trades.csv with plain pandas."""
    pnl = trades["pnl_net"]
    won = pnl > 0
    runs = (won != won.shift()).cumsum()
    run_len = won.groupby(runs).transform("size")
    equity = pd.concat([pd.Series([balance]), balance + pnl.cumsum()], ignore_index=True)
    under = equity.cummax() - equity
    return {
        "profit_factor": pnl[won].sum() / -pnl[~won].sum(),
        "expectancy": pnl.mean(),
        "best": pnl.max(),
        "worst": pnl.min(),
        "max_win_streak": int(run_len[won].max()) if won.any() else 0,
        "max_loss_streak": int(run_len[~won].max()) if (~won).any() else 0,
        "max_drawdown": under.max(),
        "max_drawdown_pct": (under / equity.cummax()).max(),
        "by_exit_reason": trades.groupby("exit_reason")["pnl_net"].sum().to_dict(),
        "by_hour": trades.groupby(trades["opened"].dt.hour)["pnl_net"].sum().to_dict(),
        "by_asset": trades.groupby("asset")["pnl_net"].count().to_dict(),
        "by_bucket": trades.groupby(
            pd.cut(trades["entry_price"], [0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], right=False),
            observed=True,
        )["pnl_net"].apply(lambda s: (s > 0).mean()),
    }


def test_the_report_figures_equal_an_independent_pandas_computation(shared_data, tmp_path):
    out = tmp_path / "run"
    env = {"UPDOWN_HOME": str(tmp_path / "home")}
    args = ["backtest", "canary", "--data", str(shared_data / TOB), "--no-db", "--out", str(out),
            "--param", "before_close_s=120"]  # fmt: skip
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    trades = pd.read_csv(out / "trades.csv", parse_dates=["opened", "closed"])
    want = independent(trades)
    assert summary["trades"] == len(trades) == 20
    assert summary["profit_factor"] == pytest.approx(want["profit_factor"])
    assert summary["expectancy"] == pytest.approx(want["expectancy"])
    assert summary["best_trade"]["pnl_net"] == pytest.approx(want["best"])
    assert summary["worst_trade"]["pnl_net"] == pytest.approx(want["worst"])
    assert (summary["max_win_streak"], summary["max_loss_streak"]) == (
        want["max_win_streak"], want["max_loss_streak"])  # fmt: skip
    assert summary["max_drawdown"] == pytest.approx(want["max_drawdown"])
    assert summary["max_drawdown_pct"] == pytest.approx(want["max_drawdown_pct"])
    got_reason = {r["key"]: r["pnl_net"] for r in summary["by_exit_reason"]}
    assert got_reason == pytest.approx(want["by_exit_reason"])
    got_hour = {int(r["key"]): r["pnl_net"] for r in summary["by_hour"]}
    assert got_hour == pytest.approx(want["by_hour"])
    assert {r["key"]: r["trades"] for r in summary["by_asset"]} == want["by_asset"]
    got_bucket = [r["win_rate"] for r in summary["by_entry_price"]]
    assert np.allclose(got_bucket, want["by_bucket"].to_numpy())
    assert summary["open_at_end"] == len(pd.read_csv(out / "open_positions.csv"))
    for label in ("profit factor", "expectancy", "longest win / loss streak", "P&L by hour"):
        assert label in result.output
    page = (out / "report.html").read_text()
    for section in ("Equity and drawdown", "Calibration", "P&amp;L by asset", "Trade list"):
        assert section in page, section
    assert "a cell failed" not in result.output
