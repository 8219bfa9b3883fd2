"""Issue 14, market-data rows, drilled on the venue adapter against the sandbox (the real SDK over
HTTP/WebSocket, no mocks): cross-matched maker fills, tick-size changes and stale ticks, the REST
book re-snapshot after a reconnect and its counted failure."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from test_venue_sandbox import buy, listed, venue_for

from live.kernel.events import BookSnapshot, OracleTick
from live.runner.feeds import FeedSupervisor
from live.venues import ExecutionStatus
from live.venues.messages import TickSizeChange
from sandbox_fixtures import *  # noqa: F403

pytestmark = pytest.mark.xdist_group("venue-market-data")  # the faults are exchange-wide


@pytest.fixture
def faults(sandbox):
    sandbox.clear_faults()
    yield sandbox
    sandbox.clear_faults()


async def _until(probe, timeout_s: float, what: str):
    """Await `probe()` until it returns something truthy (the venue's pace, not a timed assert)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"never saw {what}")


def test_cross_matched_maker_fill_is_booked_on_its_own_token_and_found_by_confirmation(faults):
    sandbox = faults
    window = sandbox.window(lambda w: w["asset"] == "BTC" and w["close_ts"] - time.time() > 7)
    up, down = window["token_up"], window["token_down"]

    async def scenario():
        async with venue_for(sandbox) as venue:
            await listed(venue, window["slug"])
            stream = asyncio.create_task(venue.run_user_stream())
            try:
                sent_s = int(time.time())
                posted = await venue.place_limit(down, "BUY", Decimal("0.05"), Decimal("20"), "x-1")
                vid = str(posted.venue_order_id)
                sandbox.inject("cross_match", asset="BTC", count=1)

                async def booked():
                    return [t for t in await venue.trades(sent_s * 1000 - 2000)
                            if t.venue_order_id == vid]  # fmt: skip

                trades = await _until(booked, 8, "the cross-matched fill")
                raw = [t async for page in venue.client.list_account_trades() for t in page.items]
                statuses = await venue.trade_statuses("x-1", adopted=(vid, down, sent_s))
                await _until(lambda: _async(venue.watch.for_order(vid)), 5, "the user channel")
                return posted, trades, raw, statuses, venue.watch.for_order(vid)
            finally:
                stream.cancel()

    posted, trades, raw, statuses, streamed = asyncio.run(scenario())
    assert posted.status == "live"
    (trade,) = trades
    assert (trade.token_id, trade.side) == (down, "BUY")  # our entry, not the trade's top level
    assert (trade.price, trade.shares) == (Decimal("0.05"), Decimal("20"))
    (record,) = [r for r in raw if r.id == trade.trade_id]
    assert str(record.asset_id) == up and record.side == "BUY"  # the venue record: a mint
    assert record.price == Decimal("0.95")
    assert trade.trade_id in statuses  # confirmation follows the order across the two tokens
    (view,) = streamed
    assert [(f.token_id, f.side) for f in view.fills] == [(down, "BUY")]
    assert view.token_id == up


async def _async(value):
    return value


def test_tick_size_change_arrives_on_the_market_channel_and_the_tick_is_enforced(faults):
    sandbox = faults
    window = sandbox.window(lambda w: w["asset"] == "BTC" and w["close_ts"] - time.time() > 7)
    tokens = [window["token_up"], window["token_down"]]

    async def next_tick(frames) -> TickSizeChange:
        while True:  # one socket for the whole scenario: a second iteration would reconnect
            event = (await frames.__anext__()).event
            # one event per token of the market: follow the Down token's
            if isinstance(event, TickSizeChange) and event.token_id == tokens[1]:
                return event

    async def scenario():
        async with venue_for(sandbox) as venue:
            await listed(venue, window["slug"])
            feed = venue.market_feed(tokens)
            frames = feed.__aiter__()
            await frames.__anext__()  # subscribed: the first books arrived
            sandbox.inject("tick_size", asset="BTC", tick="0.001")
            finer = await asyncio.wait_for(next_tick(frames), 5)
            fine_order = await venue.place_limit(
                tokens[1], "BUY", Decimal("0.013"), Decimal("100"), "t-fine"
            )
            sandbox.clear_faults()
            sandbox.inject("tick_size", asset="BTC", tick="0.01")
            coarser = await asyncio.wait_for(next_tick(frames), 5)
            await feed.close()
            posts_before = sandbox.state()["counters"].get("orders_posted", 0)
            # the SDK signs a limit order on its cached tick (0.001 here): the venue refuses
            # it, the adapter re-sends it once on the grid valid at both ticks
            stale = await venue.place_limit(
                tokens[1], "BUY", Decimal("0.013"), Decimal("100"), "t-stale"
            )
            mine = {o.venue_order_id: o for o in await venue.open_orders()}
            posts = sandbox.state()["counters"].get("orders_posted", 0) - posts_before
            return finer, fine_order, coarser, stale, mine, venue.stale_tick_resigns, posts

    finer, fine_order, coarser, stale, mine, resigns, posts = asyncio.run(scenario())
    assert (finer.old_tick, finer.new_tick) == (Decimal("0.01"), Decimal("0.001"))
    assert fine_order.status == "live"  # 0.013 is on the 0.001 grid while it is current
    assert (coarser.old_tick, coarser.new_tick) == (Decimal("0.001"), Decimal("0.01"))
    # the venue refused the stale 0.013 (tick 0.01): one re-send, two posts in all
    assert resigns == 1 and posts == 2
    assert stale.status == "live" and mine[stale.venue_order_id].price == Decimal("0.01")


def test_a_marketable_order_priced_on_a_stale_finer_tick_is_resigned_not_rejected(faults):
    sandbox = faults
    window = sandbox.window(lambda w: w["asset"] == "BTC" and w["close_ts"] - time.time() > 5)
    sandbox.inject("tick_size", asset="BTC", tick="0.01")

    async def scenario():
        async with venue_for(sandbox) as venue:
            await listed(venue, window["slug"])
            # the engine still holds 0.001: a worst price of 0.995 is off the venue's grid
            execution = await venue.execute(buy(window["token_up"], price="0.995"))
            return execution, venue.stale_tick_resigns

    execution, resigns = asyncio.run(scenario())
    assert resigns == 1
    assert execution.status is ExecutionStatus.FILLED, execution.reason
    assert all(f.price <= Decimal("0.99") for f in execution.events[1:])


def test_rest_book_resnapshot_reads_every_book_and_counts_a_failed_read(faults):
    sandbox = faults
    window = sandbox.open_window(min_left=4)
    tokens = [window["token_up"], window["token_down"]]

    async def scenario():
        async with venue_for(sandbox) as venue:
            emitted: list = []
            feeds = FeedSupervisor(venue, emitted.append, None, None, (), lambda t: None, list)
            read = await feeds.rest_snapshot(tokens)
            sandbox.inject("http_error", status=500, path="/clob/book")
            failed_read = await feeds.rest_snapshot(tokens)
            return read, failed_read, emitted, feeds.stats()

    read, failed_read, emitted, stats = asyncio.run(scenario())
    assert read == 2 and [b.token_id for b in emitted] == tokens
    assert all(isinstance(b, BookSnapshot) and b.ts > 0 and (b.bids or b.asks) for b in emitted)
    assert failed_read == 0
    assert stats["snapshots"] == 2 and stats["snapshot_failures"] == 2


def test_authenticated_realtime_stream_serves_spot_and_the_settlement_twap(sandbox):
    """price_stream=realtime: the venue's 60 s Chainlink TWAP channel arrives beside the spot
    channel, and its value is the sandbox's settlement TWAP for that second."""
    from sandbox import pricepath

    async def scenario():
        async with venue_for(sandbox, price_stream="realtime") as venue:
            feed = venue.price_feed(("BTC",))
            seen: dict[str, OracleTick] = {}
            async for received in feed:
                tick = received.event
                seen.setdefault(tick.source.split(":")[0], tick)
                if len(seen) == 2:
                    break
            await feed.close()
            return seen, feed.bad_messages

    seen, bad = asyncio.run(scenario())
    assert bad == 0
    spot, twap = seen["price.crypto"], seen["price.crypto.twap"]
    assert spot.source == "price.crypto:btcusd:chainlink" and str(spot.asset) == "BTC"
    seed = sandbox.state()["seed"]
    assert twap.price == pricepath.twap(seed, "BTC", twap.ts // 1000, 60)
    assert spot.price == pricepath.oracle_price(seed, "BTC", spot.ts // 1000)


def test_realtime_stream_with_wrong_credentials_is_refused_and_counted(sandbox):
    from live.venues.streams import realtime_price_feed

    async def scenario():
        async with venue_for(sandbox) as venue:
            feed = realtime_price_feed(venue.urls.ws_realtime, "nope", "nope", "nope", ["btcusd"])
            ticks = []

            async def read():
                async for received in feed:
                    ticks.append(received)

            reader = asyncio.create_task(read())
            await _until(lambda: _async(feed.bad_messages >= 2), 5, "the refusals")
            reader.cancel()
            await feed.close()
            return ticks, feed.bad_messages, feed.last_error

    ticks, bad, last_error = asyncio.run(scenario())
    assert ticks == []
    assert bad == 2 and "auth_required" in last_error  # auth_invalid, then the subscription
