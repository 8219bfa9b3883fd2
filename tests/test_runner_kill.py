"""Issue 7, runner side: a strategy built to lose (`always-lose`, promoted on the sandbox) trades
LIVE until its pre-registered kill criterion (two settled losses in a row) trips on the
settlement that completes the streak; then the runner disables it: removed from
allowed_strategies (audited as 'runner:kill-criterion'), its promotion revoked, a
`kill_criterion_hit` alert recorded, /health shows it disabled, and its later signals are denied
STRATEGY_NOT_ALLOWED."""

from __future__ import annotations

import asyncio

import pytest
from runner_kit import (
    REPO,
    control_audit,
    health,
    live_controls,
    make_recorded_runner,
    promote,
    rows,
    runner_config,
    running,
    scalar,
    start_sandbox,
    until,
)

from live.promotion.kill_criteria import evaluate_kill, load_kill_criterion

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner-kill")]
STRATEGY = "always-lose"


def test_kill_criterion_hit_disables_the_strategy_and_later_signals_are_denied(db_url):
    server = start_sandbox()
    try:
        live_controls(db_url, STRATEGY)
        promotion = promote(db_url, STRATEGY, STRATEGY)
        config = runner_config(server.base_url, strategies=(STRATEGY,))
        runner = make_recorded_runner(db_url, config)
        asyncio.run(_drive(db_url, runner, promotion))
    finally:
        server.stop()


def settled_pnls(db_url: str) -> list:
    return [
        r[0]
        for r in rows(
            db_url,
            "SELECT pnl_net FROM positions WHERE strategy = %s AND mode = 'LIVE' "
            "AND pnl_net IS NOT NULL ORDER BY closed_ts, position_id",
            STRATEGY,
        )
    ]


async def _drive(db_url: str, runner, promotion: int) -> None:
    async with runner.alerter.recording(), running(runner):
        assert (await health(runner))["strategies"] == {STRATEGY: "active"}
        run_id = runner.primary.engine.run_id
        await until(
            lambda: "kill_criterion_hit" in runner.alerter.kinds(),
            timeout=150,
            every=0.5,
            what="the kill criterion tripping",
        )
        seen = scalar(db_url, "SELECT coalesce(max(id), 0) FROM decisions")
        hit = [h for k, _, h in runner.alerter.raised if k == "kill_criterion_hit"]
        # Evaluated on the settlement that completed the streak, not one window late.
        assert hit == ["max_consecutive_losses: longest losing streak 2, limit 2"], hit

        # Disabled through the audited controls table, by the runner.
        assert control_audit(db_url, "allowed_strategies")[-1] == ("none", "runner:kill-criterion")
        revoked = rows(
            db_url, "SELECT revoked_at IS NOT NULL, revoked_reason FROM promotions WHERE id = %s",
            promotion,
        )[0]  # fmt: skip
        assert revoked[0] and revoked[1].startswith("kill criterion hit"), revoked
        alert = await until(
            lambda: rows(db_url, "SELECT message FROM alerts WHERE kind = 'kill_criterion_hit'"),
            timeout=5,
            what="a kill_criterion_hit alert row",
        )
        assert STRATEGY in alert[0][0]

        # /health says why it no longer trades; the next window's signal is refused.
        status = await health(runner)
        assert status["strategies"] == {STRATEGY: "disabled_by_kill_criterion"}
        later = await until(
            lambda: rows(
                db_url,
                "SELECT verdict, code FROM decisions WHERE run_id = %s AND id > %s",
                run_id,
                seen,
            ),
            timeout=30,
            what="a signal after the kill",
        )
        assert set(later) == {("DENIED", "STRATEGY_NOT_ALLOWED")}, later
        sent = runner.gateway.sent
        await asyncio.sleep(0.5)
        assert runner.gateway.sent == sent

    # The record agrees: the settled P&L in the DB trips the declared criterion.
    criterion = load_kill_criterion(REPO / "preregistrations" / f"{STRATEGY}.yaml")
    assert evaluate_kill(criterion, settled_pnls(db_url)).hit
