"""The real SDK trades against the sandbox over HTTP: creds, books, orders, fills, cancels,
trades, positions, balances, settlement and payout."""

from __future__ import annotations

import time
from decimal import Decimal

from sandbox_fixtures import *  # noqa: F403
from sandbox_fixtures import PAGE_SIZE, market_buy, wait_for


def _usdc(client) -> Decimal:
    return Decimal(client.get_balance_allowance(asset_type="COLLATERAL").balance) / 10**6


def test_sdk_derives_credentials_and_reads_market_and_book(sandbox):
    client = sandbox.client()
    window = sandbox.open_window()
    market = client.get_market(slug=window["slug"])
    assert market.outcomes.yes.token_id == window["token_up"]
    assert market.outcomes.no.token_id == window["token_down"]
    book = client.get_order_book(token_id=window["token_up"])
    assert book.bids and book.asks and book.bids[-1].price < book.asks[-1].price
    assert book.tick_size in (Decimal("0.01"), Decimal("0.001"))
    again = sandbox.client(wallet=None)
    assert again.credentials.key != client.credentials.key


def test_fok_buy_fills_and_shows_in_trades_positions_and_balance(sandbox):
    client = sandbox.client()
    window = sandbox.open_window()
    before = _usdc(client)
    result = market_buy(client, window["token_up"], "5", order_type="FOK")
    assert result.status == "matched"
    trades = [t for page in client.list_account_trades() for t in page.items]
    assert sum(t.size for t in trades) == result.taking_amount
    fee = sum(
        (t.size * Decimal("0.07") * t.price * (1 - t.price)).quantize(Decimal("0.00001"))
        for t in trades
    )
    assert _usdc(client) == before - result.making_amount - fee
    positions = [p for page in client.list_positions() for p in page.items]
    assert positions[0].current_size == result.taking_amount


def test_gtc_rests_then_cancels_and_fak_partially_fills(sandbox):
    client = sandbox.client()
    window = sandbox.open_window()
    resting = client.place_limit_order(
        token_id=window["token_up"], price="0.02", size="10", side="BUY"
    )
    assert resting.ok and resting.status == "live"
    open_ids = [o.id for page in client.list_open_orders() for o in page.items]
    assert resting.order_id in open_ids
    assert client.cancel_order(order_id=resting.order_id).canceled == (resting.order_id,)
    assert not [o for page in client.list_open_orders() for o in page.items]
    sandbox.inject("partial_fill", ratio="0.5")
    try:
        fak = market_buy(client, window["token_up"], "4")
    finally:
        sandbox.clear_faults()
    assert fak.making_amount <= Decimal("2.01")


def test_trades_paginate_over_every_trade_of_the_account_exactly_once(sandbox):
    client = sandbox.client()
    window = sandbox.open_window()
    traded = [market_buy(client, window["token_down"], "2") for _ in range(3)]
    trade_ids = [tid for order in traded for tid in order.trade_ids]
    assert len(trade_ids) >= 3  # at least one fill per filled order: more than one page
    pages = list(client.list_account_trades())
    listed = [t.id for page in pages for t in page.items]
    assert len(pages) >= 2 and all(len(page.items) <= PAGE_SIZE for page in pages)
    assert sorted(listed) == sorted(trade_ids)


def test_window_resolves_and_pays_out_to_the_cent(sandbox):
    client = sandbox.client()
    window = sandbox.open_window(min_left=3)
    start = _usdc(client)
    buy = market_buy(client, window["token_up"], "3", order_type="FOK")
    trades = [t for page in client.list_account_trades() for t in page.items]
    fees = sum(
        (t.size * Decimal("0.07") * t.price * (1 - t.price)).quantize(Decimal("0.00001"))
        for t in trades
    )
    done = sandbox.window(
        lambda w: w["slug"] == window["slug"] and w["status"] == "resolved",
        timeout=window["close_ts"] - time.time() + 10,
    )
    payout = buy.taking_amount if done["winner"] == "Up" else Decimal(0)
    assert done["winner"] == ("Up" if Decimal(done["final"]) >= Decimal(done["strike"]) else "Down")
    wait_for(lambda: _usdc(client) == start - buy.making_amount - fees + payout, timeout=3)
    market = client.get_market(slug=window["slug"])
    assert market.state.closed
