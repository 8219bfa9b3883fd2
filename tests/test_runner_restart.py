"""Issue 15 against the sandbox and real PostgreSQL: a runner stopped with a position open records
what it left; the next start adopts it and settles it; an observer takes over within 5 s when the
trader dies, adopts what it owned and settles it, and the dead trader never orders again."""

from __future__ import annotations

import asyncio
import json

import psycopg
import pytest
from eth_account import Account
from runner_kit import (
    Alerts,
    health,
    live_controls,
    promote,
    rows,
    runner_config,
    running,
    start_sandbox,
    until,
)

from live.runner.runner import Runner
from live.venues.config import KEY_VAR, VenueConfig
from live.venues.polymarket import PolymarketVenue

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner-restart")]
KEY = Account.create().key.hex()  # one wallet: a restart is the same account


def make_runner(db_url: str, config) -> Runner:
    env = {KEY_VAR: KEY}
    venue = PolymarketVenue(
        VenueConfig.from_env("sandbox", sandbox_url=config.sandbox_url, env=env)
    )
    return Runner(config, db_url, venue, alerter=Alerts(db_url))


def open_live_positions(db_url: str) -> list[tuple]:
    return rows(
        db_url,
        "SELECT position_id, window_slug, run_id FROM positions "
        "WHERE mode = 'LIVE' AND state <> 'CLOSED' AND shares > 0 ORDER BY opened_ts",
    )


def closed_with_settlement(db_url: str, position_id: str) -> bool:
    """CLOSED with its window's settlement, and (the venue realism settles to cash by
    redemption) its receivable, if it had one, REDEEMED."""
    return bool(
        rows(
            db_url,
            "SELECT 1 FROM positions p JOIN settlements s ON s.window_slug = p.window_slug "
            "AND s.mode = 'LIVE' WHERE p.position_id = %s AND p.state = 'CLOSED' AND NOT EXISTS "
            "(SELECT 1 FROM redemptions r WHERE r.position_id = p.position_id "
            "AND r.status = 'PENDING')",
            position_id,
        )
    )


def test_a_stopped_runner_leaves_a_record_and_the_next_start_settles_what_it_left(db_url):
    server = start_sandbox()
    try:
        live_controls(db_url)
        promote(db_url, "always-trade-canary", "canary")
        asyncio.run(_restart(db_url, server.base_url))
    finally:
        server.stop()


async def _restart(db_url: str, base_url: str) -> None:
    first = make_runner(db_url, runner_config(base_url))
    async with running(first):
        (pid, slug, _), *_ = await until(
            lambda: open_live_positions(db_url), timeout=60, what="an open LIVE position"
        )
        first.request_stop("test: stop with a position open")
    (reason, positions) = rows(
        db_url,
        "SELECT reason, open_positions FROM runner_stops WHERE run_id = %s",
        first.primary.engine.run_id,
    )[0]
    assert reason == "test: stop with a position open"
    assert pid in {p["position_id"] for p in positions}
    second = make_runner(db_url, runner_config(base_url))
    async with running(second):
        status = await health(second)
        assert status["lock"]["role"] == "trader" and status["reconciliation"]["ok"], (
            status["reconciliation"],
            status["adoption"],
        )
        # still open at the stop (adopted as a position), or resolved during the stop's drain
        # and awaiting its redemption (adopted as a receivable, redeemed by the desk)
        adopted = status["adoption"]["positions"] + status["adoption"]["receivables"]
        assert pid in adopted, status["adoption"]
        engine = second.primary.engine
        assert pid in engine.positions.positions or pid in engine.ledger.receivables.pending
        await until(
            lambda: closed_with_settlement(db_url, pid), timeout=60, what="the adopted settled"
        )
    entries = rows(
        db_url,
        "SELECT count(*) FROM orders WHERE mode = 'LIVE' AND purpose = 'ENTRY' "
        "AND window_slug = %s",
        slug,
    )[0][0]
    assert entries <= 2
    adopted = rows(db_url, "SELECT adopted FROM adoptions ORDER BY id DESC LIMIT 1")[0][0]
    assert pid in adopted["positions"] + adopted["receivables"], json.dumps(adopted)


def test_an_observer_takes_over_within_5_s_of_the_traders_death(db_url):
    server = start_sandbox()
    try:
        live_controls(db_url)
        promote(db_url, "always-trade-canary", "canary")
        asyncio.run(_takeover(db_url, server.base_url))
    finally:
        server.stop()


async def die(runner) -> None:
    """The trader dies (as SIGKILL would leave it): its tasks stop, its lock connection goes."""
    for task in runner._tasks:
        task.cancel()
    await asyncio.gather(*runner._tasks, return_exceptions=True)
    with psycopg.connect(runner.db_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (runner.lock.backend_pid(),))


async def _takeover(db_url: str, base_url: str) -> None:
    trader = make_runner(db_url, runner_config(base_url))
    observer = make_runner(db_url, runner_config(base_url, takeover_s=1.0))
    async with running(trader), running(observer):
        assert (await health(observer))["lock"]["role"] == "observer"
        (pid, _, _), *_ = await until(
            lambda: open_live_positions(db_url), timeout=60, what="an open LIVE position"
        )
        await die(trader)
        loop = asyncio.get_running_loop()
        died = loop.time()
        await until(lambda: observer.is_trader, timeout=5, every=0.05, what="takeover in 5 s")
        took = loop.time() - died
        assert took <= 5.0
        assert pid in observer.primary.engine.positions.positions
        assert (await health(observer))["reconciliation"]["ok"]
        await until(
            lambda: closed_with_settlement(db_url, pid), timeout=60, what="the adopted settled"
        )
        # Exactly one trader at every instant: nothing from the dead one once the observer
        # took over, and the new trader's orders all after its takeover.
        took_ms = observer.lock_watch.took_over_at
        late = rows(
            db_url,
            "SELECT count(*) FROM orders WHERE run_id = %s AND created_ts >= to_timestamp(%s)",
            trader.primary.engine.run_id,
            took_ms / 1000,
        )[0][0]
        early = rows(
            db_url,
            "SELECT count(*) FROM orders WHERE run_id = %s AND created_ts < to_timestamp(%s)",
            observer.primary.engine.run_id,
            took_ms / 1000 - 1,
        )[0][0]
        assert (late, early) == (0, 0)
        status = await health(observer)
        assert not status["breaker"]["tripped"], status["breaker"]
        assert status["lock"]["takeovers"] == 1
