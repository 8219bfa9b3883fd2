"""Issue 5, startup reconciliation (FM19): a mismatch between the database and the venue planted
before a LIVE (sandbox) runner starts — an open position the venue does not hold, an ACKED GTC
order the venue does not know — or a venue query that fails at start, is a failed
reconciliation: a `reconciliation_runs` row lists the differences (or the error), the runner
stays an observer that never orders, and a `reconciliation_mismatch` alert is recorded. A failed
venue query is never read as "flat"."""

from __future__ import annotations

import asyncio
import json
import time

import psycopg
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
    same_wallet,
    start_sandbox,
    until,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("runner-reconcile")]
SLUG = "btc-updown-20s-1700000000"


@pytest.fixture(scope="module")
def server():
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def faults(server):
    injected = Faults(server.base_url)
    yield injected
    injected.clear()


def plant_position(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO positions (position_id, mode, run_id, strategy, window_slug, asset, "
            "outcome, token_id, state, shares, entry_price, cost, opened_ts, updated_ts) "
            "VALUES ('planted-p1', 'LIVE', 'earlier-run', 'always-trade-canary', %s, 'BTC', "
            "'UP', 'planted-token', 'MONITORING', 5, 0.6, 3, now(), now())",
            (SLUG,),
        )


def plant_resting_order(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO orders (client_order_id, venue_order_id, mode, run_id, strategy, "
            "window_slug, token_id, outcome, side, purpose, order_type, requested_shares, "
            "worst_price, state, created_ts, updated_ts) VALUES ('planted-o1', '0xplanted', "
            "'LIVE', 'earlier-run', 'always-trade-canary', %s, 'planted-token', 'UP', 'BUY', "
            "'ENTRY', 'GTC', 10, 0.4, 'ACKED', now(), now())",
            (SLUG,),
        )


def last_reconciliation(db_url: str) -> tuple[bool, list[dict], str | None]:
    found = rows(
        db_url, "SELECT ok, differences, error FROM reconciliation_runs ORDER BY id DESC LIMIT 1"
    )
    assert found, "no reconciliation_runs row"
    ok, differences, error = found[0]
    return ok, differences if isinstance(differences, list) else json.loads(differences), error


async def alert_row(db_url: str) -> str:
    found = await until(
        lambda: rows(db_url, "SELECT message FROM alerts WHERE kind = 'reconciliation_mismatch'"),
        timeout=5,
        what="a reconciliation_mismatch alert row",
    )
    return found[0][0]


async def observer_after_failed_reconciliation(runner) -> dict:
    status = await health(runner)
    assert status["lock"]["held"] is True  # it holds the lock, and still may not order
    assert status["lock"]["role"] == "observer", status["lock"]
    assert any("reconciliation" in r for r in status["lock"]["observer_reasons"])
    assert status["reconciliation"]["ok"] is False
    assert status["breaker"]["tripped"] is True
    return status


def start_live(db_url: str, server):
    live_controls(db_url)
    promote(db_url, "always-trade-canary", "canary")
    return make_recorded_runner(db_url, runner_config(server.base_url))


def test_open_position_the_venue_lacks_fails_reconciliation_and_never_orders(db_url, server):
    plant_position(db_url)
    runner = start_live(db_url, server)

    async def drive() -> None:
        async with runner.alerter.recording(), running(runner):
            status = await observer_after_failed_reconciliation(runner)
            assert status["reconciliation"]["differences"] == [
                {"kind": "position", "token_id": "planted-token", "db": "5", "venue": "0"}
            ]
            assert "1 difference" in await alert_row(db_url)
            # The promoted canary signals on the next window: denied, nothing sent.
            run_id = runner.primary.engine.run_id
            denied = await until(
                lambda: rows(db_url, "SELECT verdict FROM decisions WHERE run_id = %s", run_id),
                timeout=30,
                what="a canary decision",
            )
            assert {v for (v,) in denied} == {"DENIED"}
            assert runner.gateway.sent == 0

    asyncio.run(drive())
    ok, differences, error = last_reconciliation(db_url)
    assert ok is False and error is None
    assert differences == [
        {"kind": "position", "token_id": "planted-token", "db": "5", "venue": "0"}
    ]
    assert rows(db_url, "SELECT count(*) FROM orders WHERE mode = 'LIVE'")[0][0] == 0


def test_acked_gtc_order_unknown_to_the_venue_fails_reconciliation(db_url, server):
    plant_resting_order(db_url)
    runner = start_live(db_url, server)

    async def drive() -> None:
        async with runner.alerter.recording(), running(runner):
            await observer_after_failed_reconciliation(runner)
            await alert_row(db_url)
            assert runner.gateway.sent == 0

    asyncio.run(drive())
    ok, differences, _ = last_reconciliation(db_url)
    assert ok is False
    assert differences == [{"kind": "open_order_missing_at_venue", "venue_order_id": "0xplanted"}]


@pytest.mark.parametrize("path", ["/data/", "/clob/data/orders"])
def test_failing_venue_query_at_start_is_a_failed_reconciliation_not_flat(
    db_url, server, faults, path
):
    faults.inject("http_error", status=500, path=path)
    runner = start_live(db_url, server)

    async def drive() -> None:
        async with runner.alerter.recording(), running(runner):
            status = await observer_after_failed_reconciliation(runner)
            assert "venue query failed" in status["reconciliation"]["error"]
            assert status["reconciliation"]["differences"] == []
            assert "venue query failed" in await alert_row(db_url)
            assert runner.gateway.sent == 0

    asyncio.run(drive())
    ok, differences, error = last_reconciliation(db_url)
    assert ok is False and differences == [] and "venue query failed" in error


def test_fill_at_the_venue_unknown_to_the_db_fails_reconciliation(db_url, server):
    runner = start_live(db_url, server)
    window = next(
        w
        for w in Faults(server.base_url).state()["windows"]
        if w["asset"] == "BTC" and w["close_ts"] - time.time() > 5
    )

    async def trade_behind_its_back() -> str:
        async with same_wallet(runner) as other:  # the runner's wallet, before it starts
            other.remember(await other.listing(window["slug"], max_age_s=0))
            order = {
                "client_order_id": "outside-1",
                "token_id": window["token_up"],
                "side": "BUY",
                "order_type": "FAK",
                "amount": "2",
                "price": "0.99",
            }
            placed = (await other.execute(order)).venue_order_id
            # The Data API lags trades (10 s in the venue profile): reconcile once it shows.
            await until(lambda: other.positions(), timeout=30, what="the position in the Data API")
            return placed

    async def drive() -> None:
        async with runner.alerter.recording(), running(runner):
            await observer_after_failed_reconciliation(runner)
            await alert_row(db_url)
            assert runner.gateway.sent == 0

    venue_order_id = asyncio.run(trade_behind_its_back())
    asyncio.run(drive())
    ok, differences, _ = last_reconciliation(db_url)
    assert ok is False
    kinds = {(d["kind"], d.get("token_id") or d.get("venue_order_id")) for d in differences}
    assert kinds == {
        ("position", window["token_up"]),
        ("trade_unknown_to_db", venue_order_id),
    }, differences
