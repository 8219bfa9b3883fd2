"""Issue 14, O3 at the runner: a stop-loss fires at its threshold on the venue profile, whose
balance cache refuses a SELL of shares bought in this session until the token's CONDITIONAL
balance is refreshed (Polymarket/py-clob-client#290). One LIVE runner on the sandbox through the
real SDK; the drill strategy enters $4 with a 0.1 % stop, which the bid under an entry at the ask
crosses at the first mark after the fill is confirmed: the exit is the SELL right after a BUY.

Checked: the position goes STOP_TRIGGERED → EXIT_PENDING → CLOSED with exit reason STOP_LOSS before
its window closes (not held to settlement); the SELL filled at the venue for the position's shares;
the adapter refreshed the venue's cache before selling (the sandbox counted the refresh) and was
never refused for balance (no refresh-and-retry was needed); no breaker tripped."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from runner_kit import (
    Faults,
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
from test_runner_controls import SizedCanary

from live.kernel.domain import RiskParams
from live.runner import runner as runner_module
from strategies.canary import AT_T_MINUS_60

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner-stop")]
STOP = Decimal("0.001")


# The controls drill's $4 canary entry (a stopped-out exit must be worth the venue's $1 minimum).
DRILL = SizedCanary(name="stop-drill", timing=AT_T_MINUS_60, risk=RiskParams(stop_loss=STOP))


def test_a_stop_fires_at_its_threshold_through_the_venues_balance_cache(db_url, monkeypatch):
    monkeypatch.setattr(runner_module, "resolve", lambda names: [DRILL])
    # The venue profile (balance caches on) with trades confirmed within ~1 s: the stopped-out
    # shares must be sellable (CONFIRMED) inside a 20 s window.
    server = start_sandbox(trade_mined_seconds=(0.2, 0.4), trade_confirmed_seconds=(0.4, 1.0))
    try:
        faults = Faults(server.base_url)
        assert faults.state()["realism"] == "venue"
        live_controls(db_url, DRILL.name)
        promote(db_url, DRILL.name, "canary", rel="tests/preregistrations/stop-drill.yaml")
        runner = make_recorded_runner(
            db_url, runner_config(server.base_url, strategies=(DRILL.name,))
        )
        refreshes_before = faults.state()["counters"].get("balance_cache_refreshes", 0)
        position_id = asyncio.run(_drive(runner))
        refreshes = faults.state()["counters"].get("balance_cache_refreshes", 0) - refreshes_before
    finally:
        server.stop()

    path = [
        r[0]
        for r in rows(
            db_url,
            "SELECT to_state FROM position_events WHERE position_id = %s ORDER BY ts, id",
            position_id,
        )
    ]
    assert "STOP_TRIGGERED" in path and path[-1] == "CLOSED", path
    tail = path[path.index("STOP_TRIGGERED") :]
    assert tail[:2] == ["STOP_TRIGGERED", "EXIT_PENDING"], path
    (reason, shares, closed_ts, close_ts, resolution) = rows(
        db_url,
        "SELECT p.exit_reason, p.shares, p.closed_ts, w.close_ts, p.resolution FROM positions p "
        "JOIN windows w ON w.slug = p.window_slug WHERE p.position_id = %s",
        position_id,
    )[0]
    assert reason == "STOP_LOSS" and resolution is None, (reason, resolution)
    assert closed_ts < close_ts, "stopped out before the close, not held to settlement"
    sold = scalar(
        db_url,
        "SELECT sum(f.shares) FROM fills f JOIN orders o USING (client_order_id) "
        "WHERE o.position_id = %s AND o.purpose = 'EXIT' AND o.side = 'SELL' "
        "AND o.venue_order_id IS NOT NULL",
        position_id,
    )
    assert sold is not None and sold >= shares - Decimal("0.01"), (sold, shares)
    assert refreshes >= 1  # the CONDITIONAL cache refreshed before the SELL (O3)
    assert runner.venue.balance_refreshes == 0  # never refused for balance: no retry needed


async def _drive(runner) -> str:
    async with running(runner):
        assert (await health(runner))["lock"]["role"] == "trader"

        def stopped():
            engine = runner.primary.engine
            for p in engine.positions:
                if p.exit_reason == "STOP_LOSS" and str(p.state) == "CLOSED":
                    return p.position_id
            return None

        position_id = await until(stopped, timeout=90, every=0.2, what="a stopped-out position")
        status = await health(runner)
        assert status["breaker"]["tripped"] is False, status["breaker"]
        return position_id
