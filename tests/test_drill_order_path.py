"""Issue 14 drills: the LIVE runner (canary strategy, BTC 15 s windows) against the sandbox in its
`venue` realism profile — delayed matches for a share of taker orders, the venue's balance
cache, trades reporting 0 bps while the fee is charged, prefixed order statuses — driven through
a delayed post longer than the engine's 5 s deadline, a matching-engine restart (425 on posts,
cancels and heartbeats, then post-only) and expired API credentials, one after the other in one
run. Each must end in the right state without an operator: the order's venue answer booked (no
UNKNOWN), no breaker trip, one `venue_not_ready` alert for the restart, the credentials derived
again, every assertion held (balance = ledger with the venue's fees), and trading resumed."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from runner_kit import (
    Faults,
    health,
    live_controls,
    make_runner,
    promote,
    rows,
    runner_config,
    running,
    start_sandbox,
    until,
)

from live.kernel.domain import taker_fee

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("order-path-drill")]
WINDOW_S = 15
FINAL = ("FILLED", "PARTIALLY_FILLED", "CANCELLED", "REJECTED")
FEE = Decimal("0.07")  # the sandbox markets' fee schedule
TOL = Decimal("0.00001")


def _filled_after(db_url: str, since: float) -> int:
    return len(
        rows(
            db_url,
            "SELECT 1 FROM orders WHERE mode = 'LIVE' AND state = 'FILLED' "
            "AND created_ts > to_timestamp(%s)",
            since,
        )
    )


def test_runner_rides_a_delayed_match_an_engine_restart_and_expired_credentials(db_url):
    server = start_sandbox(assets=("BTC",), window_seconds=(WINDOW_S,))
    faults = Faults(server.base_url)
    try:
        live_controls(db_url)
        promote(db_url, "always-trade-canary", "canary")
        config = runner_config(server.base_url, assets=("BTC",), window_lengths_s=(WINDOW_S,))
        runner = make_runner(db_url, config, restart_pause_s=1.0, restart_max_s=4.0)
        seen = asyncio.run(_drive(db_url, runner, faults))
    finally:
        server.stop()
    delayed_id, refused_reasons, status = seen
    venue = runner.venue

    # O1: the delayed post is booked with the venue's answer; never UNKNOWN
    ((state,),) = rows(db_url, "SELECT state FROM orders WHERE venue_order_id = %s", delayed_id)
    assert state in ("FILLED", "PARTIALLY_FILLED", "CANCELLED")
    assert rows(db_url, "SELECT 1 FROM orders WHERE state = 'UNKNOWN'") == []
    # O4: LIVE fees follow the market's schedule (the venue's records say 0 bps)
    fills = rows(
        db_url,
        "SELECT f.price, f.shares, f.fee FROM fills f JOIN orders o USING (client_order_id) "
        "WHERE o.mode = 'LIVE'",
    )
    assert fills
    assert all(abs(fee - taker_fee(shares, FEE, price)) <= TOL for price, shares, fee in fills)
    # O2: refused "venue not ready" (never UNKNOWN), one alert, no breaker, resumed
    assert refused_reasons and all(r.startswith("venue not ready") for r in refused_reasons)
    kinds = [k for k, _, _ in runner.alerter.raised]
    assert kinds.count("venue_not_ready") == 1
    assert "position_unknown" not in kinds and "breaker_tripped" not in kinds
    assert venue._heartbeat.failures == 0 and venue.readiness.restarting is False
    # O5: credentials derived again without an operator
    assert venue.credential_renewals >= 1
    # the end state: no breaker, every assertion held (balance = ledger included)
    assert status["breaker"]["tripped"] is False, status["breaker"]
    assert rows(db_url, "SELECT name, detail FROM assertion_results WHERE NOT ok") == []


async def _drive(db_url: str, runner, faults: Faults):
    async with running(runner):
        await until(lambda: _filled_after(db_url, 0) >= 1, 60, what="a first LIVE fill")

        # O1: the next entry is answered "delayed" and matched 7 s later (beyond 5 s)
        delayed_before = faults.state()["counters"].get("orders_delayed", 0)
        faults.inject("delay_orders", seconds=7, count=1)
        await until(
            lambda: faults.state()["counters"].get("orders_delayed", 0) > delayed_before,
            60,
            what="a delayed post",
        )
        delayed_id = next(
            o["id"] for o in reversed(faults.state()["orders"]) if o["status"] == "DELAYED"
        )
        await until(
            lambda: rows(
                db_url,
                "SELECT 1 FROM orders WHERE venue_order_id = %s AND state = ANY(%s)",
                delayed_id,
                list(FINAL),
            ),
            30,
            what="the delayed order's final answer",
        )

        # O2: a restart with heartbeats refused too; then post-only; then open again
        began = faults.inject("engine_restart", seconds=16, post_only_seconds=1, heartbeats=True)
        since = time.time()
        await until(
            lambda: rows(
                db_url,
                "SELECT reason FROM orders WHERE state = 'REJECTED' AND reason LIKE %s "
                "AND created_ts > to_timestamp(%s)",
                "venue not ready%",
                since,
            ),
            40,
            what="an entry refused 'venue not ready'",
        )
        refused = [
            r
            for (r,) in rows(
                db_url,
                "SELECT reason FROM orders WHERE state = 'REJECTED' AND created_ts > "
                "to_timestamp(%s)",
                since,
            )
        ]
        opened = began["open_at"]
        await asyncio.sleep(max(0.0, opened - time.time()))
        await until(lambda: _filled_after(db_url, opened) >= 1, 60, what="trading resumed")

        # O5: every API key expires; the runner derives its credentials again by itself
        faults.inject("expire_credentials")
        expired_at = time.time()
        await until(lambda: runner.venue.credential_renewals >= 1, 30, what="renewal")
        await until(lambda: _filled_after(db_url, expired_at) >= 1, 60, what="a fill after")
        status = await health(runner)
    return delayed_id, refused, status
