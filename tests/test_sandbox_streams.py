"""WebSocket channels through the real async SDK: market book and resolution, user order and
trade lifecycle, oracle prices; and the stream/settlement faults."""

from __future__ import annotations

import asyncio
import time

from sandbox_fixtures import *  # noqa: F403
from sandbox_fixtures import WORST_BUY


async def _next(handle, predicate, timeout: float):
    async def scan():
        async for event in handle:
            if predicate(event):
                return event
        return None

    return await asyncio.wait_for(scan(), timeout)


def test_market_book_user_lifecycle_and_prices_stream(sandbox):
    from polymarket.streams._specs import CryptoPricesSpec, MarketSpec, UserSpec

    async def run():
        client = await sandbox.async_client()
        window = sandbox.open_window(min_left=4)
        market = await client.subscribe(MarketSpec(token_ids=[window["token_up"]]))
        book = await _next(market, lambda e: e.type == "book", 5)
        assert book.payload.bids and book.payload.asks
        user = await client.subscribe(UserSpec())
        await asyncio.sleep(0.2)
        placed = await client.place_market_order(
            token_id=window["token_up"],
            side="BUY",
            amount="2",
            order_type="FAK",
            max_price=WORST_BUY,
        )
        assert placed.ok, placed
        statuses = []

        async def collect():
            async for event in user:
                if event.type == "trade":
                    statuses.append(event.payload.status)
                    if event.payload.status == "CONFIRMED":
                        return

        await asyncio.wait_for(collect(), 5)
        assert statuses[:3] == ["MATCHED", "MINED", "CONFIRMED"]
        prices = await client.subscribe(
            CryptoPricesSpec(topic="prices.crypto.chainlink", symbols=["btc/usd"])
        )
        tick = await _next(prices, lambda e: True, 5)
        assert tick.payload.value > 0
        for handle in (market, user, prices):
            await handle.close()
        await client.close()

    asyncio.run(run())


def test_stall_feed_silences_market_channel_and_disconnect_closes(sandbox):
    from polymarket.streams._specs import MarketSpec

    async def run():
        client = await sandbox.async_client()
        window = sandbox.open_window(min_left=5, asset="ETH")
        sandbox.inject("stall_feed", channel="market", asset="ETH")
        try:
            handle = await client.subscribe(MarketSpec(token_ids=[window["token_up"]]))
            try:
                await _next(handle, lambda e: True, 2.5)
                raise AssertionError("stalled feed delivered data")
            except TimeoutError:
                pass
        finally:
            sandbox.clear_faults()
        assert sandbox.inject("disconnect", channel="market")["disconnected"] >= 1
        await handle.close()
        await client.close()

    asyncio.run(run())


def test_settlement_faults_delay_and_contradict(sandbox):
    window = sandbox.open_window(min_left=2, asset="ETH")
    sandbox.inject("delay_settlement", asset="ETH", seconds=3)
    sandbox.inject("contradict_settlement", asset="ETH")
    try:
        done = sandbox.window(
            lambda w: w["slug"] == window["slug"] and w["status"] == "resolved",
            timeout=window["close_ts"] - time.time() + 12,
        )
    finally:
        sandbox.clear_faults()
    assert done["resolve_at"] >= window["close_ts"] + 1 + 3
    assert done["winner"] != done["true_winner"]


def test_rotate_token_ids_changes_gamma_ids(sandbox):
    client = sandbox.client()
    window = sandbox.window(lambda w: w["status"] == "upcoming" and w["asset"] == "ETH")
    rotated = sandbox.inject("rotate_token_ids", asset="ETH")["rotated"]
    assert any(r["slug"] == window["slug"] for r in rotated)
    market = client.get_market(slug=window["slug"])
    assert market.outcomes.yes.token_id != window["token_up"]


def test_drop_confirmations_accepts_order_but_sends_no_user_events(sandbox):
    from polymarket.streams._specs import UserSpec

    async def run():
        client = await sandbox.async_client()
        user = await client.subscribe(UserSpec())
        await asyncio.sleep(0.2)
        # the window is picked just before the order (on a loaded machine the subscription
        # can take seconds, and a 10 s window may close meanwhile)
        window = sandbox.open_window(min_left=5)
        sandbox.inject("drop_confirmations", count=1)
        result = await client.place_market_order(
            token_id=window["token_up"],
            side="BUY",
            amount="2",
            order_type="FAK",
            max_price=WORST_BUY,
        )
        assert result.ok, result
        try:
            await _next(user, lambda e: True, 1.5)
            raise AssertionError("user event delivered despite drop_confirmations")
        except TimeoutError:
            pass
        await user.close()
        await client.close()

    asyncio.run(run())
