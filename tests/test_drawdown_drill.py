"""Issue 16, item 2 on the venue path: a losing strategy (`always-lose`, LIVE on the sandbox through
the real SDK) under `max_drawdown_usd` 0.9 — below one $1 loss, above the spread and fees an
entry costs at once. The breaker must trip in the step that brings the drawdown to the limit
(the losing window's settlement), so the next window's entry is denied (TRADING_STATE): not one
trade late. Its kill criterion (two losses in a row) cannot fire first: one loss trips."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from runner_kit import (
    WINDOW_S,
    live_controls,
    make_recorded_runner,
    promote,
    rows,
    runner_config,
    running,
    set_controls,
    start_sandbox,
    until,
)

from panel_app.models.risk import RiskModel
from panel_app.models.state import CockpitState
from panel_app.poller import Poller

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("drawdown-drill")]

STRATEGY = "always-lose"
LIMIT = Decimal("0.9")


def _settled(db_url: str, run_id: str) -> list[tuple]:
    return rows(
        db_url,
        "SELECT window_slug, pnl_net, closed_ts FROM positions WHERE run_id = %s "
        "AND state = 'CLOSED' ORDER BY closed_ts",
        run_id,
    )


def test_a_losing_strategy_trips_the_drawdown_breaker_at_the_limit(db_url):
    server = start_sandbox(
        trade_mined_seconds=(0.2, 0.4), trade_confirmed_seconds=(0.5, 1.0), data_lag_seconds=1.0
    )
    try:
        live_controls(db_url, strategies=STRATEGY)
        set_controls(db_url, max_drawdown_usd=str(LIMIT), drawdown_alert_fraction="0.5")
        promote(db_url, STRATEGY, STRATEGY)
        config = runner_config(server.base_url, strategies=(STRATEGY,), data_lag_s=1.0)
        runner = make_recorded_runner(db_url, config)
        asyncio.run(_drive(db_url, runner))
    finally:
        server.stop()


async def _drive(db_url: str, runner) -> None:
    async with runner.alerter.recording(), running(runner):
        run_id = runner.primary.engine.run_id

        def tripped() -> list[tuple]:
            return rows(
                db_url,
                "SELECT ts, reason, detail FROM breaker_events WHERE run_id = %s AND tripped",
                run_id,
            )

        await until(tripped, timeout=8 * WINDOW_S, every=0.5, what="the drawdown trip")
        trip_ts, reason, detail = tripped()[0]
        assert reason.startswith("drawdown limit"), reason
        assert Decimal(detail["drawdown"]) >= LIMIT, detail
        assert Decimal(detail["peak_equity"]) - Decimal(detail["equity"]) == Decimal(
            detail["drawdown"]
        ), detail
        # Independently of the guard: the drawdown from the positions table (equity at the
        # start is the peak until a win; a window's loss is its pnl_net).
        # The guard counts open positions at their bid, so it may trip before the settlement
        # that realises the loss, never after it.
        closed = await until(lambda: _settled(db_url, run_id), 3 * WINDOW_S, what="settled")
        peak = equity = Decimal(0)
        reached = None
        for slug, pnl, ts in closed:
            equity += pnl
            peak = max(peak, equity)
            if peak - equity >= LIMIT:
                reached = (slug, ts)
                break
        if reached is not None:  # realised losses reached it: the trip came no later
            assert trip_ts <= reached[1], (reached, trip_ts)
        entered_after = rows(
            db_url,
            "SELECT client_order_id FROM orders WHERE run_id = %s AND purpose = 'ENTRY' "
            "AND created_ts > %s",
            run_id,
            trip_ts,
        )
        assert entered_after == [], entered_after
        # The next window's entry is asked for and denied while tripped.
        denied = await until(
            lambda: rows(
                db_url,
                "SELECT code FROM decisions WHERE run_id = %s AND ts > %s",
                run_id,
                trip_ts,
            ),
            timeout=2 * WINDOW_S,
            what="the next entry's decision",
        )
        assert {code for (code,) in denied} == {"TRADING_STATE"}, denied
        alerts = await until(
            lambda: rows(db_url, "SELECT severity, message FROM alerts WHERE kind = 'drawdown'"),
            timeout=5,
            what="the drawdown alert",
        )
        assert any("hit the limit" in m for _, m in alerts), alerts
        # The dashboard's Risk view shows the breaker's limit and that it tripped.
        state = CockpitState()
        poller = Poller(db_url, state)
        with poller.connect() as conn:
            poller.poll_once(conn)
        model = RiskModel(cockpit=state)
        model.refresh()
        guard = model.drawdown_limit()
        assert guard == {"limit": str(LIMIT), "alert_at": "0.45", "tripped": True}, guard
