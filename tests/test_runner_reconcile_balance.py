"""Issue 15: the startup reconciliation compares the venue's balance with the ledger the database
implies, when that ledger is at rest (live/runner/balance_check.py) — against the sandbox and
real PostgreSQL: a runner trades, pauses, settles and is redeemed, and stops; the next start
compares the balance and agrees; a venue balance 10 USDC off (the sandbox's `balance_offset`) is
a reconciliation difference: observer, breaker, `reconciliation_mismatch`. The at-rest rules and
the comparison itself on planted rows and as a property."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from runner_kit import (
    Faults,
    health,
    live_controls,
    promote,
    runner_config,
    running,
    settle_then_pause,
    start_sandbox,
)
from test_runner_restart import make_runner

from live.runner.balance_check import (
    TOLERANCE_USD,
    LedgerAtRest,
    compare_balance,
    ledger_at_rest,
)

NOW = datetime.now(UTC)
USD = st.decimals(min_value=0, max_value=10_000, places=6)


@given(db=USD, venue=USD, same_wallet=st.booleans())
def test_a_difference_is_reported_iff_above_the_tolerance_and_the_wallet_is_ours(
    db, venue, same_wallet
):
    ledger = LedgerAtRest(db, 0, "r1", frozenset({"0xa"}))
    diffs, note = compare_balance(ledger, venue, frozenset({"0xa" if same_wallet else "0xb"}))
    assert note["compared"] is same_wallet
    assert bool(diffs) is (same_wallet and abs(venue - db) > TOLERANCE_USD)
    if diffs:
        assert diffs[0]["kind"] == "balance" and Decimal(diffs[0]["venue"]) == venue


def test_no_ledger_at_rest_no_comparison():
    diffs, note = compare_balance(
        LedgerAtRest(None, why_not="a redemption pending"), 5, frozenset()
    )
    assert diffs == [] and note == {"compared": False, "why": "a redemption pending"}


def _balance(conn, ts, usd, run_id="r1") -> None:
    conn.execute(
        "INSERT INTO balances (ts, mode, run_id, source, usd) VALUES (%s, 'LIVE', %s, "
        "'expected', %s)",
        (ts, run_id, usd),
    )


def _order(conn, cid, updated, venue_id="0xa", run_id="r1") -> None:
    conn.execute(
        "INSERT INTO orders (client_order_id, venue_order_id, mode, run_id, strategy, "
        "window_slug, token_id, outcome, side, purpose, order_type, state, worst_price, "
        "filled_shares, created_ts, updated_ts) VALUES (%s, %s, 'LIVE', %s, 'canary', 'w', "
        "'t', 'UP', 'BUY', 'ENTRY', 'FAK', 'FILLED', 0.5, 2, %s, %s)",
        (cid, venue_id, run_id, updated, updated),
    )


def test_the_ledger_is_at_rest_only_when_nothing_moved_since_its_last_balance(db_url):
    now_ms = int(NOW.timestamp() * 1000)
    with psycopg.connect(db_url) as conn:
        assert ledger_at_rest(conn, "LIVE", now_ms).why_not == "no ledger balance recorded yet"
        _order(conn, "c1", NOW - timedelta(seconds=60))
        _balance(conn, NOW - timedelta(seconds=30), "998.5")
        rest = ledger_at_rest(conn, "LIVE", now_ms)
        assert rest.usd == Decimal("998.5") and rest.run_orders == {"0xa"}, rest
        _order(conn, "c2", NOW - timedelta(seconds=10), venue_id="0xb")
        moved = ledger_at_rest(conn, "LIVE", now_ms)
        assert moved.usd is None and "order changed" in moved.why_not
        _balance(conn, NOW - timedelta(seconds=5), "997.5")
        assert ledger_at_rest(conn, "LIVE", now_ms).usd == Decimal("997.5")
        conn.execute(
            "INSERT INTO fills (fill_id, client_order_id, mode, price, shares, fee, ts, status) "
            "VALUES ('f1', 'c2', 'LIVE', 0.5, 2, 0, %s, 'MATCHED')",
            (NOW - timedelta(seconds=10),),
        )
        assert ledger_at_rest(conn, "LIVE", now_ms).why_not == "a fill still settling"
        conn.rollback()


@pytest.mark.slow
@pytest.mark.xdist_group("runner-reconcile-balance")
def test_the_next_start_compares_the_balance_and_a_venue_balance_off_is_a_difference(db_url):
    server = start_sandbox()
    try:
        live_controls(db_url)
        promote(db_url, "always-trade-canary", "canary")
        asyncio.run(_starts(db_url, server.base_url))
    finally:
        Faults(server.base_url).clear()
        server.stop()


async def _starts(db_url: str, base_url: str) -> None:
    first = make_runner(db_url, runner_config(base_url))
    async with running(first):
        await settle_then_pause(db_url, first, 1)
    second = make_runner(db_url, runner_config(base_url))
    async with running(second):
        reconciliation = (await health(second))["reconciliation"]
        assert reconciliation["ok"] is True, reconciliation
        balance = reconciliation["balance"]
        assert balance["compared"] is True, balance
        assert (
            balance["db"] == balance["venue"]
            or abs(Decimal(balance["db"]) - Decimal(balance["venue"])) <= TOLERANCE_USD
        )
    Faults(base_url).inject("balance_offset", usd="-10")
    third = make_runner(db_url, runner_config(base_url))
    async with running(third):
        status = await health(third)
        assert status["lock"]["role"] == "observer", status["lock"]
        diffs = [d for d in status["reconciliation"]["differences"] if d["kind"] == "balance"]
        assert len(diffs) == 1, status["reconciliation"]
        assert Decimal(diffs[0]["db"]) - Decimal(diffs[0]["venue"]) == Decimal(10)
        assert "reconciliation_mismatch" in third.alerter.kinds()
        assert third.gateway.sent == 0
