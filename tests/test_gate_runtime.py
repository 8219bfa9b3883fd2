"""The runner-side pieces: live/promotion/status.py (is there a valid promotion; disabling a
strategy) and live/promotion/kill_criteria.py (each declared criterion, evaluated after every
settlement)."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from live.promotion import status as promotion
from live.promotion.kill_criteria import (
    MaxConsecutiveLossesKill,
    MaxDrawdownKill,
    MinWinRateAfterNKill,
    SprtKill,
    evaluate_kill,
    run_sprt,
)
from live.store import controls

D = Decimal


# ---------------------------------------------------------------- kill criteria


def test_max_drawdown_counts_from_the_running_peak_including_an_early_loss():
    kill = MaxDrawdownKill(D("3"))
    assert not evaluate_kill(kill, [D("2"), D("-1"), D("-1.5")]).hit  # peak 2, trough -0.5
    verdict = evaluate_kill(kill, [D("2"), D("-1"), D("-2")])
    assert verdict.hit and "max drawdown 3 USD" in verdict.detail
    assert evaluate_kill(kill, [D("-3")]).hit


def test_max_consecutive_losses_counts_only_an_unbroken_streak():
    kill = MaxConsecutiveLossesKill(3)
    assert not evaluate_kill(kill, [D(-1), D(-1), D(1), D(-1), D(-1)]).hit
    assert evaluate_kill(kill, [D(1), D(-1), D(0), D(-1)]).hit  # zero P&L is not a win


def test_min_win_rate_is_only_evaluated_after_n_trades():
    kill = MinWinRateAfterNKill(n=5, min_win_rate=0.5)
    early = evaluate_kill(kill, [D(-1)] * 4)
    assert not early.hit and "not evaluated yet" in early.detail
    assert evaluate_kill(kill, [D(-1)] * 3 + [D(1)] * 2).hit  # 2/5 = 0.4
    assert not evaluate_kill(kill, [D(-1)] * 2 + [D(1)] * 3).hit


def test_sprt_kill_hits_when_the_test_accepts_no_edge():
    kill = SprtKill("win_rate", 0.5, 0.6, 0.05, 0.2)
    losing = [D(1), D(-1), D(-1), D(1), D(-1), D(-1), D(-1)] * 3
    verdict = evaluate_kill(kill, losing)
    assert verdict.hit and "accept_h0" in verdict.detail
    assert not evaluate_kill(kill, [D(1), D(-1)]).hit
    assert run_sprt(kill, [D(1)] * 20).decision == "accept_h1"


def test_gaussian_sprt_kill_uses_the_pnl_values():
    kill = SprtKill("ev", 0.0, 0.1, 0.05, 0.2, sigma=1.0)
    assert evaluate_kill(kill, [D("-0.5")] * 40).hit
    assert not evaluate_kill(kill, [D("0.5")] * 40).hit


# ---------------------------------------------------------------- promotion validity


@pytest.fixture
def conn(db_url: str):
    with psycopg.connect(db_url) as c:
        yield c


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "preregistrations").mkdir()
    (tmp_path / "preregistrations" / "canary.yaml").write_text("strategy: always-trade-canary\n")
    return tmp_path


def _promote(conn, repo: Path, target: str = "live", strategy: str = "always-trade-canary"):
    sha = hashlib.sha256((repo / "preregistrations" / "canary.yaml").read_bytes()).hexdigest()
    conn.execute(
        "INSERT INTO promotions (strategy, target, file_path, file_sha256, git_commit, checks) "
        "VALUES (%s, %s, 'preregistrations/canary.yaml', %s, 'abc123', '[]')",
        (strategy, target, sha),
    )
    conn.commit()


def test_no_promotion_means_not_promoted(conn, repo):
    status = promotion.promotion_status(conn, "always-trade-canary", repo)
    assert not status.valid and status.reason == "no live promotion"


def test_a_recorded_promotion_is_valid_for_its_target_only(conn, repo):
    _promote(conn, repo, "paper")
    assert promotion.has_valid_promotion(conn, "always-trade-canary", repo, "paper")
    assert not promotion.has_valid_promotion(conn, "always-trade-canary", repo, "live")


def test_editing_the_preregistration_voids_the_promotion(conn, repo):
    _promote(conn, repo)
    assert promotion.has_valid_promotion(conn, "always-trade-canary", repo)
    path = repo / "preregistrations" / "canary.yaml"
    path.write_text(path.read_text() + "version: 2\n")
    status = promotion.promotion_status(conn, "always-trade-canary", repo)
    assert not status.valid and "edited after promotion" in status.reason
    path.unlink()
    assert "missing" in promotion.promotion_status(conn, "always-trade-canary", repo).reason


def test_a_revoked_promotion_is_not_valid(conn, repo):
    _promote(conn, repo)
    assert promotion.revoke(conn, "always-trade-canary", "operator decision") == 1
    conn.commit()
    assert not promotion.has_valid_promotion(conn, "always-trade-canary", repo)
    listed = promotion.list_promotions(conn, repo)
    assert len(listed) == 1 and listed[0].reason.endswith("operator decision")


def test_disable_strategy_removes_it_and_its_aliases_audited_and_revokes(conn, repo):
    _promote(conn, repo)
    controls.write(conn, "allowed_strategies", "canary,momo", "test")
    value = promotion.disable_strategy(
        conn, "always-trade-canary", "kill: max_drawdown", "runner", aliases=("canary",)
    )
    assert value == "momo"
    assert controls.read(conn).allowed_strategies == frozenset({"momo"})
    audit = conn.execute(
        "SELECT old_value, new_value, changed_by FROM control_changes "
        "WHERE key = 'allowed_strategies' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert audit == ("canary,momo", "momo", "runner")
    assert not promotion.has_valid_promotion(conn, "always-trade-canary", repo)


def test_disabling_the_last_or_a_wildcard_strategy_stays_a_valid_control(conn):
    controls.write(conn, "allowed_strategies", "*", "test")
    value = promotion.disable_strategy(
        conn, "momo", "kill", "runner", known_strategies=["a", "momo"]
    )
    assert value == "a"
    value = promotion.disable_strategy(conn, "a", "kill", "runner")
    assert value == "none" and controls.read(conn).strategy_allowed("a") is False
