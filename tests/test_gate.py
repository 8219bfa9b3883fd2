"""The promotion gate: each failing check fails with its own message; all passing records a
promotion bound to the file's hash and commit. A throwaway git repo in tmp_path holds the
pre-registration; DB facts are inserted as the rows the runner would write."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from live.promotion import status as promotion
from research import gate, prereg
from research.prereg_schema import Metric, Preregistration
from updown.cli import app

T0 = datetime(2026, 2, 1, tzinfo=UTC)  # after the file's commit date below
COMMIT_DATE = "2026-01-01T00:00:00+00:00"
FEE_RATE = Decimal("0.02")


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": COMMIT_DATE, "GIT_COMMITTER_DATE": COMMIT_DATE}
    out = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)
    return out.stdout.decode().strip()


def _momo_text(**changes: str) -> str:
    """Win rate 0.5 -> 0.8: 18 trades required (13 wins reject H0); kill after 4 losses in a
    row; 10 windows expected to make 0..10 USD; one backtest run as evidence."""
    draft = prereg.draft("momo", Metric.WIN_RATE, 0.5, 0.3, entry_price=0.5)
    data = draft.model_dump(mode="python")
    data["kill_criterion"] = {"kind": "max_consecutive_losses", "max_losses": 4}
    data["expected_pnl_per_10_windows"] = {"low_usd": 0, "high_usd": 10}
    data["evidence"] = {"backtest_run_ids": ["bt-momo-1"]}
    text = prereg.render(Preregistration.model_validate(data))
    for old, new in changes.items():
        text = text.replace(old, new, 1)
    return text


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "preregistrations").mkdir(parents=True)
    _git(root, "init", "-q")
    _git(root, "config", "user.email", "author@example.com")
    _git(root, "config", "user.name", "Author")
    (root / "preregistrations" / "momo.yaml").write_text(_momo_text())
    _git(root, "add", "preregistrations/momo.yaml")
    _git(root, "commit", "-q", "-m", "pre-register momo")
    return root


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url) as c:
        c.execute(
            "INSERT INTO backtest_runs (run_id, kind, mode, strategy, data_from, data_to) "
            "VALUES ('bt-momo-1', 'backtest', 'BACKTEST', 'momo', %s, %s)",
            (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC)),
        )
        c.commit()
        yield c


def settle(
    conn,
    i: int,
    mode: str,
    win: bool,
    price: str = "0.50",
    strategy: str = "momo",
    venue: str | None = "polymarket",
):
    """One traded and settled 5-minute BTC window: window, entry order and fill, the closed
    position with gross/net P&L on `venue`, the agreed settlement and the passing assertions."""
    open_ts = T0 + timedelta(minutes=5 * i)
    close_ts, epoch = open_ts + timedelta(minutes=5), int(open_ts.timestamp())
    slug, p = f"btc-updown-5m-{epoch}", Decimal(price)
    shares = (Decimal(1) / p).quantize(Decimal("0.000001"))
    fee = (shares * FEE_RATE * p * (1 - p)).quantize(Decimal("0.000001"))
    proceeds = shares if win else Decimal(0)
    gross = proceeds - Decimal(1)
    winner, ids = ("UP" if win else "DOWN"), f"{mode}-{strategy}-{i}"
    entry_ts = close_ts - timedelta(seconds=60)
    conn.execute(
        "INSERT INTO windows (slug, asset, length_s, open_ts, close_ts, condition_id, token_up, "
        "token_down, tick_size, min_size, fee_rate, strike, final_price, status, winner) "
        "VALUES (%s,'BTC',300,%s,%s,%s,%s,%s,0.01,5,%s,100000,%s,'RESOLVED',%s) "
        "ON CONFLICT DO NOTHING",
        (
            slug,
            open_ts,
            close_ts,
            f"0xc{epoch}",
            f"up{epoch}",
            f"down{epoch}",
            FEE_RATE,
            100010 if win else 99990,
            winner,
        ),
    )
    conn.execute(
        "INSERT INTO orders (client_order_id, venue_order_id, mode, strategy, window_slug, "
        "position_id, token_id, outcome, side, purpose, order_type, requested_usd, worst_price, "
        "filled_shares, avg_price, fee, state, created_ts, updated_ts) VALUES "
        "(%s,%s,%s,%s,%s,%s,%s,'UP','BUY','ENTRY','FAK',1,%s,%s,%s,%s,'FILLED',%s,%s)",
        (
            f"co-{ids}",
            f"v-{ids}",
            mode,
            strategy,
            slug,
            f"pos-{ids}",
            f"up{epoch}",
            p + Decimal("0.02"),
            shares,
            p,
            fee,
            entry_ts,
            entry_ts,
        ),
    )
    conn.execute(
        "INSERT INTO fills (fill_id, client_order_id, mode, ts, price, shares, fee) "
        "VALUES (%s,%s,%s,%s,%s,%s,%s)",
        (f"f-{ids}", f"co-{ids}", mode, entry_ts, p, shares, fee),
    )
    conn.execute(
        "INSERT INTO positions (position_id, mode, strategy, window_slug, asset, outcome, "
        "token_id, state, shares, entry_price, cost, fees, exit_price, proceeds, exit_reason, "
        "resolution, pnl_gross, pnl_net, opened_ts, updated_ts, closed_ts, venue) VALUES "
        "(%s,%s,%s,%s,'BTC','UP',%s,'CLOSED',%s,%s,1,%s,%s,%s,'settlement',%s,%s,%s,%s,%s,%s,%s)",
        (
            f"pos-{ids}",
            mode,
            strategy,
            slug,
            f"up{epoch}",
            shares,
            p,
            fee,
            Decimal(1 if win else 0),
            proceeds,
            winner,
            gross,
            gross - fee,
            entry_ts,
            close_ts + timedelta(seconds=20),
            close_ts + timedelta(seconds=20),
            venue,
        ),
    )
    conn.execute(
        "INSERT INTO settlements (window_slug, mode, ours, venue, agreement, rule, strike, "
        "settlement_price, ts, confirmed_ts) VALUES (%s,%s,%s,%s,'agree','twap_60s',100000,%s,"
        "%s,%s) ON CONFLICT DO NOTHING",
        (
            slug,
            mode,
            winner,
            winner,
            100010 if win else 99990,
            close_ts,
            close_ts + timedelta(seconds=15),
        ),
    )
    for name in ("A3_fill_creates_position", "A5_settlement_pnl_matches_balance"):
        conn.execute(
            "INSERT INTO assertion_results (ts, name, ok, mode, window_slug) VALUES "
            "(%s,%s,true,%s,%s)",
            (close_ts + timedelta(seconds=20), name, mode, slug),
        )
    conn.commit()
    return slug


def settle_many(
    conn,
    mode: str,
    outcomes: str,
    start: int = 0,
    price: str = "0.50",
    strategy: str = "momo",
    venue: str | None = "polymarket",
) -> list[str]:
    """Settle one window per character of `outcomes` ('W' win, 'L' loss), in order."""
    return [
        settle(conn, start + k, mode, c == "W", price, strategy, venue)
        for k, c in enumerate(outcomes)
    ]


def failed(result: gate.GateResult) -> dict[str, str]:
    return {c.name: c.evidence for c in result.checks if not c.ok}


def promote_to_paper(conn, repo: Path) -> int:
    settle_many(conn, "DRY_RUN", "WWLWWWLWWW")
    result = gate.evaluate(conn, repo, "momo", "paper")
    assert failed(result) == {}
    return gate.record(conn, result)


PAPER_18 = "WWWLWWWWWLWWWWLWWW"  # 15/18 wins: significant; last 10 = 8W 2L = 5.90 USD


# ---------------------------------------------------------------- all passing


def test_all_checks_passing_records_paper_then_live_promotions(conn, repo):
    paper_id = promote_to_paper(conn, repo)
    settle_many(conn, "PAPER", PAPER_18, start=100)
    result = gate.evaluate(conn, repo, "momo", "live")
    assert failed(result) == {}, failed(result)
    live_id = gate.record(conn, result)
    assert live_id > paper_id
    head = _git(repo, "rev-parse", "HEAD")
    row = conn.execute(
        "SELECT strategy, target, file_path, file_sha256, git_commit, checks FROM promotions "
        "WHERE id = %s",
        (live_id,),
    ).fetchone()
    sha = promotion.file_sha256(repo / "preregistrations" / "momo.yaml")
    assert row[:5] == ("momo", "live", "preregistrations/momo.yaml", sha, head)
    assert {c["name"] for c in row[5]} >= {"git", "clean_windows", "significance"}
    assert promotion.has_valid_promotion(conn, "momo", repo, "live")


# ---------------------------------------------------------------- each failing check


def test_uncommitted_file_fails_the_git_check(conn, repo):
    settle_many(conn, "DRY_RUN", "WWLWWWLWWW")
    path = repo / "preregistrations" / "momo.yaml"
    path.write_text(path.read_text().replace("version: 1", "version: 2"))
    result = gate.evaluate(conn, repo, "momo", "paper")
    assert "uncommitted changes" in failed(result)["git"]
    assert not result.passed
    (repo / "preregistrations" / "new-one.yaml").write_text(_momo_text(**{"momo": "new-one"}))
    result = gate.evaluate(conn, repo, "new-one", "paper")
    assert "not committed" in failed(result)["git"]


def test_file_edited_after_paper_promotion_fails_the_live_gate(conn, repo):
    promote_to_paper(conn, repo)
    settle_many(conn, "PAPER", PAPER_18, start=100)
    path = repo / "preregistrations" / "momo.yaml"
    path.write_text(path.read_text().replace("version: 1", "version: 2"))
    _git(repo, "commit", "-q", "-am", "bump version")  # committed, but after the promotion
    result = gate.evaluate(conn, repo, "momo", "live")
    assert set(failed(result)) == {"prior_promotion"}
    assert "edited after promotion" in failed(result)["prior_promotion"]
    assert not promotion.has_valid_promotion(conn, "momo", repo, "paper")


def test_only_nine_clean_windows_fails(conn, repo):
    settle_many(conn, "DRY_RUN", "WWLWWWLWW")
    result = gate.evaluate(conn, repo, "momo", "paper")
    assert set(failed(result)) == {"clean_windows", "pnl_range"}
    assert "only 9 settled DRY_RUN/BACKTEST windows; 10 required" in failed(result)["clean_windows"]


def test_an_assertion_failure_in_the_last_ten_windows_fails(conn, repo):
    slugs = settle_many(conn, "DRY_RUN", "WWLWWWLWWWW")
    conn.execute(
        "INSERT INTO assertion_results (ts, name, ok, detail, mode, window_slug) "
        "VALUES (%s, 'A2_fill_within_10s', false, '{\"waited_s\": 14}', 'DRY_RUN', %s)",
        (T0 + timedelta(minutes=5 * 6 + 4), slugs[6]),
    )
    conn.commit()
    result = gate.evaluate(conn, repo, "momo", "paper")
    assert set(failed(result)) == {"clean_windows"}
    assert "A2_fill_within_10s at" in failed(result)["clean_windows"]
    assert slugs[6] in failed(result)["clean_windows"]


def test_an_assertion_failure_before_the_last_ten_windows_does_not_count(conn, repo):
    slugs = settle_many(conn, "DRY_RUN", "WWLWWWLWWWW")
    conn.execute(
        "INSERT INTO assertion_results (ts, name, ok, mode, window_slug) "
        "VALUES (%s, 'A2_fill_within_10s', false, 'DRY_RUN', %s)",
        (T0 + timedelta(minutes=4), slugs[0]),
    )
    conn.commit()
    assert gate.evaluate(conn, repo, "momo", "paper").passed


def test_a_global_assertion_failure_during_the_windows_fails(conn, repo):
    settle_many(conn, "DRY_RUN", "WWLWWWLWWW")
    conn.execute(
        "INSERT INTO assertion_results (ts, name, ok, mode) "
        "VALUES (%s, 'A10_tick_under_5s', false, 'DRY_RUN')",
        (T0 + timedelta(minutes=22),),
    )
    conn.commit()
    result = gate.evaluate(conn, repo, "momo", "paper")
    assert set(failed(result)) == {"clean_windows"}
    assert "A10_tick_under_5s" in failed(result)["clean_windows"]


def test_pnl_outside_the_preregistered_range_fails(conn, repo):
    settle_many(conn, "DRY_RUN", "WWLWWWLWWW", price="0.25")  # each win pays about +3
    result = gate.evaluate(conn, repo, "momo", "paper")
    assert set(failed(result)) == {"pnl_range"}
    assert "OUTSIDE the pre-registered range [0, 10]" in failed(result)["pnl_range"]


def test_significance_before_the_required_sample_fails_with_n_below_required(conn, repo):
    promote_to_paper(conn, repo)
    settle_many(conn, "PAPER", "WWWWWLWWWWWW", start=100)
    result = gate.evaluate(conn, repo, "momo", "live")
    assert set(failed(result)) == {"significance", "overfitting"}
    assert "n < required: 12 trades, 18 required" in failed(result)["overfitting"]
    assert "n < required: 12 trades, 18 required" in failed(result)["significance"]


def test_significance_uses_exactly_the_preregistered_sample(conn, repo):
    promote_to_paper(conn, repo)
    # 12/18 wins in the pre-registered sample (13 needed), then a winning streak that a
    # peeking analyst would count: the gate must not.
    settle_many(conn, "PAPER", "WWLWWLWWLWWLWWLWLW" + "W" * 12, start=100)
    result = gate.evaluate(conn, repo, "momo", "live")
    # the same 18 trades: not significant, and their deflated Sharpe is below 0.95 too
    assert set(failed(result)) == {"significance", "overfitting"}
    assert "over 18 trades" in failed(result)["overfitting"]
    assert "12/18 wins" in failed(result)["significance"]


def test_kill_criterion_hit_fails(conn, repo):
    promote_to_paper(conn, repo)
    settle_many(conn, "PAPER", "LLLL" + "W" * 18, start=100)
    result = gate.evaluate(conn, repo, "momo", "live")
    assert set(failed(result)) == {"kill_criterion"}
    assert "max_consecutive_losses HIT" in failed(result)["kill_criterion"]


def test_missing_backtest_evidence_fails_live(conn, repo):
    promote_to_paper(conn, repo)
    settle_many(conn, "PAPER", PAPER_18, start=100)
    conn.execute("DELETE FROM backtest_runs")
    conn.commit()
    result = gate.evaluate(conn, repo, "momo", "live")
    assert failed(result) == {"evidence": "backtest runs not in backtest_runs: bt-momo-1"}


def test_the_canary_is_promoted_by_alias_without_a_significance_test(conn, repo):
    shipped = Path(__file__).resolve().parents[1] / "preregistrations" / "canary.yaml"
    assert gate.find_prereg(shipped.parents[1], "always-trade-canary") == shipped
    (repo / "preregistrations" / "canary.yaml").write_text(shipped.read_text())
    _git(repo, "add", "preregistrations/canary.yaml")
    _git(repo, "commit", "-q", "-m", "pre-register the canary")
    canary = "always-trade-canary"
    settle_many(conn, "DRY_RUN", "WWLWWWLWWW", price="0.80", strategy=canary)
    gate.record(conn, gate.evaluate(conn, repo, "canary", "paper"))
    settle_many(conn, "PAPER", "WWWLWWWWLW", start=100, price="0.80", strategy=canary)
    result = gate.evaluate(conn, repo, "canary", "live")
    assert failed(result) == {}, failed(result)
    evidence = {c.name: c.evidence for c in result.checks}
    assert "no edge claimed" in evidence["significance"]
    assert "max_drawdown not met" in evidence["kill_criterion"]
    gate.record(conn, result)
    assert promotion.has_valid_promotion(conn, canary, repo, "live")


def test_wrong_sample_size_and_invalid_file_fail(conn, repo):
    path = repo / "preregistrations" / "momo.yaml"
    path.write_text(path.read_text().replace("required_sample_size: 18", "required_sample_size: 9"))
    _git(repo, "commit", "-q", "-am", "fiddle")
    settle_many(conn, "DRY_RUN", "WWLWWWLWWW")
    result = gate.evaluate(conn, repo, "momo", "paper")
    assert failed(result) == {"sample_size": "declared 9, power calculation gives 18"}
    path.write_text(path.read_text().replace("alpha: 0.05\n", "alpha: 0.9\n"))
    _git(repo, "commit", "-q", "-am", "break")
    result = gate.evaluate(conn, repo, "momo", "paper")
    assert "alpha" in failed(result)["preregistration"]
    assert len(failed(result)) == len(result.checks) - 1  # only git still passes


# ---------------------------------------------------------------- CLI


def test_promote_cli_exit_codes_output_and_status(conn, repo, db_url, monkeypatch):
    monkeypatch.setenv("UPDOWN_DATABASE_URL", db_url)
    cli = CliRunner()
    settle_many(conn, "DRY_RUN", "WWLWWWLWW")
    result = cli.invoke(app, ["promote", "momo", "--to", "paper", "--repo", str(repo)])
    assert result.exit_code == 1
    assert "FAIL  clean_windows: only 9" in result.output and "PASS  git" in result.output
    settle(conn, 9, "DRY_RUN", True)
    result = cli.invoke(app, ["promote", "momo", "--to", "paper", "--repo", str(repo)])
    assert result.exit_code == 0, result.output
    assert "PROMOTED momo to paper" in result.output
    status = cli.invoke(app, ["promote", "--status", "--repo", str(repo)])
    assert status.exit_code == 0 and "momo -> paper VALID" in status.output
    path = repo / "preregistrations" / "momo.yaml"
    path.write_text(path.read_text() + "# a comment is an edit too\n")
    status = cli.invoke(app, ["promote", "--status", "--repo", str(repo)])
    assert "INVALID: void: preregistrations/momo.yaml was edited after promotion" in status.output
    assert cli.invoke(app, ["promote", "momo"]).exit_code == 2
