"""Sweeps that survive a failing cell and scale out without a shared disk (issue 18, items 3-4):
every finished cell is logged at once, a failing cell is logged with its error while the others
run; a grid on a Dask worker started by `dask worker` in another working directory with its own
$UPDOWN_HOME (no path to the data) gives the trials a single process computes; `sweep ls | show`
reopen it, with a CSV of every cell and a heatmap."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from typer.testing import CliRunner

from research.backtest import run_backtest
from research.data import build_dataset, day_range
from research.sources import file_rows
from research.sweep import evaluate_cell, run_grid
from research.trials import trial_metrics, trials_of
from updown.cli import app

pytestmark = pytest.mark.xdist_group("research")
TOB = "btc_15m_top_of_book_1s_2025-12-26.csv.gz"


def test_a_failing_cell_is_logged_with_its_error_and_every_other_cell_runs(
    shared_data, db_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("UPDOWN_HOME", str(tmp_path / "home"))
    rows = file_rows(shared_data / TOB)
    lo, hi = day_range("2025-12-26")

    def flaky(token, data, lo, hi, assets, strategy, params, *rest):  # shipped by value
        if params["before_close_s"] == "60":
            raise RuntimeError("planted failure in the 60 s cell")
        return evaluate_cell(token, data, lo, hi, assets, strategy, params, *rest)

    seen = []
    with psycopg.connect(db_url) as conn:
        run = run_grid("canary", rows, lo, hi, {"before_close_s": ["30", "60", "120"]},
                       workers=1, conn=conn, evaluate=flaky,
                       on_cell=lambda p, m: seen.append(p["before_close_s"]))  # fmt: skip
        logged = trials_of(conn, run.sweep_id)
        summary = conn.execute(
            "SELECT summary FROM backtest_runs WHERE run_id = %s", (run.sweep_id,)
        ).fetchone()[0]
    assert sorted(seen) == ["120", "30", "60"]
    by_offset = {p["before_close_s"]: m for _, p, m in logged}
    assert by_offset["60"] == {"error": "RuntimeError: planted failure in the 60 s cell"}
    assert (by_offset["30"]["trades"], by_offset["120"]["trades"]) == (5, 20)
    assert summary == {"cells": 3, "done": 3, "failed": 1}
    assert [p for p, _ in run.failed] == [{"before_close_s": "60"}]


@pytest.fixture
def remote_worker(tmp_path):
    """A Dask scheduler (LocalCluster with no workers) and one `dask worker` process started in
    another directory with another $UPDOWN_HOME: nothing on its disk holds the sweep's data."""
    from dask.distributed import Client, LocalCluster

    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "home").mkdir(parents=True)
    cluster = LocalCluster(n_workers=0, processes=True, dashboard_address=":0")
    env = {**os.environ, "UPDOWN_HOME": str(elsewhere / "home")}
    env.pop("UPDOWN_DATABASE_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
         "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
        cwd=elsewhere, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with Client(cluster) as client:
            client.wait_for_workers(1, timeout=60)
            cwd, home = client.run(lambda: (os.getcwd(), os.environ["UPDOWN_HOME"])).popitem()[1]
        assert (Path(cwd), Path(home)) == (elsewhere, elsewhere / "home")
        yield cluster.scheduler_address, elsewhere
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        cluster.close()


def test_a_grid_on_a_worker_without_the_data_on_its_disk_matches_one_process(
    shared_data, db_url, tmp_path, remote_worker
):
    address, elsewhere = remote_worker
    home = tmp_path / "home"
    env = {"UPDOWN_DATABASE_URL": db_url, "UPDOWN_HOME": str(home)}
    args = ["sweep", "grid", "canary", "--from", "2025-12-26", "--param", "before_close_s=30,120",
            "--param", "usd=1,2", "--scheduler", address, "--min-trades", "1",
            "--data", str(shared_data / TOB)]  # fmt: skip
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "Dask dashboard: http" in result.output
    sweep_id = result.output.split("4 event-driven trials logged under ")[1].split()[0]
    with psycopg.connect(db_url) as conn:
        remote = {tuple(sorted(p.items())): m for _, p, m in trials_of(conn, sweep_id)}
    rows = file_rows(shared_data / TOB)
    dataset = build_dataset(rows, *day_range("2025-12-26"))
    assert len(remote) == 4
    for key, metrics in remote.items():
        local = trial_metrics(run_backtest("canary", dataset, params=dict(key)))
        assert metrics == local, key
    assert not any(elsewhere.rglob("*.parquet")) and not (home / "cache").exists()

    csv = home / "sweeps" / f"{sweep_id}.csv"
    frame = pd.read_csv(csv)
    assert len(frame) == 4 and set(frame.columns) >= {"before_close_s", "usd", "pnl_net"}
    ranked = [r for r in result.output.splitlines() if r.startswith("│")]
    best = frame[frame.trades >= 1].sort_values("pnl_net", ascending=False)
    assert len(ranked) == len(best)
    first = ranked[0].split("│")[1:-1]
    top = best.iloc[0]
    assert [float(c) for c in first[:2]] == [top.before_close_s, top.usd]

    listed = CliRunner().invoke(app, ["sweep", "ls"], env=env)
    assert listed.exit_code == 0 and sweep_id in listed.output, listed.output
    png = tmp_path / "heat.png"
    shown = CliRunner().invoke(app, ["sweep", "show", sweep_id, "--heatmap",
                                     "before_close_s,usd", "--heatmap-out", str(png)],
                               env=env)  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    missing = CliRunner().invoke(app, ["sweep", "show", "sweep-nope"], env=env)
    assert missing.exit_code == 2 and "no sweep 'sweep-nope'" in missing.output


def test_screen_statistics_are_per_trade_and_in_usd():
    """Sharpe over the trades only (empty windows do not count, no annualisation), drawdown in
    USD as a positive peak-to-trough of the cumulative P&L: the event trials' units."""
    from research.screen import _portfolio_stats

    flat = np.array([[0.5, 0.0], [0.0, 0.0], [-1.0, 0.0], [0.2, 0.1]])
    stats = _portfolio_stats(flat)
    trades = pd.Series([0.5, -1.0, 0.2])
    assert stats["sharpe"][0] == pytest.approx(trades.mean() / trades.std())
    assert np.isnan(stats["sharpe"][1])  # one trade: no spread to divide by
    cumulative = pd.Series([0.0, 0.5, 0.5, -0.5, -0.3])
    assert stats["max_drawdown"][0] == pytest.approx((cumulative.cummax() - cumulative).max())
    assert stats["max_drawdown"][1] == 0.0
