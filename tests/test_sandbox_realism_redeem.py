"""Settling to cash the way Polymarket does, through the real SDK against a sandbox in the `venue`
realism profile: resolution pays nothing; resolved positions, winners and losers, stay in the Data
API as redeemable; `redeem_positions` turns them into cash — over JSON-RPC for an EOA, through
the relayer for a deposit wallet — once (a second redemption pays nothing); a redemption before
resolution reverts; a redemption that reverts pays nothing and the retry pays.

The chain is shortened here (mined within 1 s) and the Data API lag is off: these drills check
what redemption does; the latencies and the lag have their own drills."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from polymarket.errors import RequestRejectedError, TransactionFailedError

from sandbox_fixtures import market_buy, positions, running_sandbox, usdc, venue_config, wait_for

FAST_CHAIN = {"tx_mined_seconds": (0.2, 0.6), "tx_confirmed_seconds": (0.6, 1.2)}
POLL_MS = 100


@pytest.fixture(scope="module")
def venue():
    # Redemption is checked on immediate matches (a "delayed" answer carries no amounts; that
    # behaviour is drilled in test_sandbox_realism_delayed.py and test_order_path.py).
    config = venue_config(
        seed=21, data_lag_seconds=0.0, auto_redeem_delay=3600, delayed_share=0.0, **FAST_CHAIN
    )
    with running_sandbox(config) as handle:
        yield handle


def _buy_both(client, window: dict) -> dict[str, Decimal]:
    """Shares bought of each outcome: one of them will win."""
    return {
        token: market_buy(client, window[token], "3").taking_amount
        for token in ("token_up", "token_down")
    }


def _winner_token(done: dict) -> str:
    return "token_up" if done["winner"] == "Up" else "token_down"


def test_resolution_pays_nothing_positions_stay_redeemable_and_redeeming_pays_once(venue):
    client = venue.client(poll_ms=POLL_MS)
    window = venue.open_window(min_left=4)
    shares = _buy_both(client, window)
    cash = usdc(client)
    done = venue.resolved(window)
    won, lost = _winner_token(done), ({"token_up", "token_down"} - {_winner_token(done)}).pop()
    time.sleep(0.5)  # a few ticks after the resolution: still no payout
    assert usdc(client) == cash

    rows = {row.asset_id: row for row in positions(client)}
    assert set(rows) == {window["token_up"], window["token_down"]}
    for token, row in rows.items():
        assert row.redeemable and row.status == "REDEEMABLE"
        assert row.condition_id == window["condition_id"]
        assert row.current_price == (1 if token == window[won] else 0)
    assert rows[window[won]].current_size == shares[won]
    assert [r.asset_id for r in positions(client, status="REDEEMABLE_LOST")] == [window[lost]]

    outcome = client.redeem_positions(condition_id=window["condition_id"]).wait()
    assert usdc(client) == cash + shares[won]  # $1 a winning share, $0 a losing one
    assert positions(client) == []
    again = client.redeem_positions(condition_id=window["condition_id"]).wait()
    assert usdc(client) == cash + shares[won]  # the second redemption succeeds and pays nothing
    txs = {t["hash"]: t for t in venue.state()["transactions"]}
    assert txs[outcome.transaction_hash]["paid"] == str(shares[won].normalize())
    assert txs[again.transaction_hash]["paid"] == "0"
    assert txs[outcome.transaction_hash]["via"] == "rpc"


def test_redeeming_before_resolution_reverts_and_a_reverted_redemption_can_be_retried(venue):
    client = venue.client(poll_ms=POLL_MS)
    window = venue.open_window(min_left=4)
    shares = _buy_both(client, window)
    cash = usdc(client)
    venue.inject("delay_settlement", seconds=4, asset="BTC")
    try:
        venue.window(lambda w: w["slug"] == window["slug"] and w["status"] == "closed", 15)
        with pytest.raises(RequestRejectedError, match="result for condition not received yet"):
            client.redeem_positions(condition_id=window["condition_id"])
    finally:
        venue.clear_faults()
    done = venue.resolved(window)
    venue.inject("fail_redemptions", count=1, message="execution reverted: out of gas")
    handle = client.redeem_positions(condition_id=window["condition_id"])
    with pytest.raises(TransactionFailedError):
        handle.wait()
    assert usdc(client) == cash  # reverted: nothing paid, nothing burnt
    assert {r.asset_id for r in positions(client)} == {window["token_up"], window["token_down"]}
    client.redeem_positions(condition_id=window["condition_id"]).wait()
    assert usdc(client) == cash + shares[_winner_token(done)]
    assert positions(client) == []


def test_deposit_wallet_redeems_through_the_relayer(venue):
    client = venue.deposit_wallet_client(poll_ms=POLL_MS)
    assert client.wallet_type == "DEPOSIT_WALLET" and client.wallet != client.signer
    window = venue.open_window(min_left=4)
    shares = _buy_both(client, window)
    cash = usdc(client)
    assert {r.asset_id for r in positions(client)} == {window["token_up"], window["token_down"]}
    done = venue.resolved(window)
    outcome = client.redeem_positions(condition_id=window["condition_id"]).wait()
    final = venue.http.get(f"/relayer/v1/account/transactions/{outcome.transaction_id}").json()
    assert final["state"] == "STATE_CONFIRMED"  # the SDK polled it there
    assert final["transaction_hash"] == outcome.transaction_hash
    row = next(t for t in venue.state()["transactions"] if t["id"] == outcome.transaction_id)
    assert row["via"] == "relayer" and row["calls"] == ["redeemPositions"]
    assert 0 < row["mined_after_s"] <= row["confirmed_after_s"]
    assert usdc(client) == cash + shares[_winner_token(done)]
    wait_for(lambda: positions(client) == [], timeout=3)


def test_relayer_refuses_unauthenticated_and_stale_submissions(venue):
    signer = venue.new_wallet().address
    body = {"type": "WALLET", "from": signer, "nonce": "0", "depositWalletParams": {}}
    unauthenticated = venue.http.post("/relayer/submit", json=body)
    assert unauthenticated.status_code == 401
    headers = {"RELAYER_API_KEY": "k", "RELAYER_API_KEY_ADDRESS": signer}
    stale = dict(body, nonce="7", depositWalletParams={"depositWallet": signer, "calls": []})
    answer = venue.http.post("/relayer/submit", json=stale, headers=headers)
    assert answer.status_code == 400
    assert "batch nonce 7 does not match on-chain nonce 0" in answer.json()["error"]


def test_async_client_redeems_too(venue):
    """The runner's client is the async one: the same endpoints answer it."""
    wallet = venue.new_wallet()
    client = venue.client(wallet)
    window = venue.open_window(min_left=4)
    shares = _buy_both(client, window)
    cash = usdc(client)
    done = venue.resolved(window)

    async def redeem():
        async_client = await venue.async_client(wallet, poll_ms=POLL_MS)
        try:
            handle = await async_client.redeem_positions(condition_id=window["condition_id"])
            return await handle.wait()
        finally:
            await async_client.close()

    outcome = asyncio.run(redeem())
    assert outcome.transaction_hash.startswith("0x")
    assert usdc(client) == cash + shares[_winner_token(done)]
