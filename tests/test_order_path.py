"""The order path under the venue's real behaviour (issue 14, docs/venue.md "Order-path
behaviours"): the adapter (`PolymarketVenue`) against one sandbox in the `venue` realism profile,
the real SDK over HTTP, each behaviour produced by its sandbox fault or realism option. The
exact venue answer is checked through the raw SDK where the row has one; the adapter's outcome
(status, fills, fee, balance delta, what was sent) after it."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from polymarket.errors import RequestRejectedError

from live.kernel.domain import taker_fee
from live.kernel.events import OrderFill, OrderUnknown
from live.venues import ExecutionStatus, PolymarketVenue, VenueConfig
from live.venues.account import HeartbeatNotReady
from live.venues.config import KEY_VAR
from live.venues.discovery import Listing
from live.venues.trading import BALANCE_STALE
from sandbox_fixtures import (
    KILL_MESSAGES,
    WORST_BUY,
    market_buy,
    refresh_balance,
    running_sandbox,
    venue_config,
    wait_for,
)

pytestmark = pytest.mark.xdist_group("order-path")
FEE_RATE = Decimal("0.07")


@pytest.fixture(scope="module")
def rig():
    # The venue profile (delayed share, balance cache, fee reported 0, prefixed order statuses)
    # plus the L2 timestamp check the skew drill needs; 20 s windows leave room for a sell.
    config = venue_config(
        seed=31, window_seconds=(20,), data_lag_seconds=0.0, max_timestamp_age_s=30.0
    )
    with running_sandbox(config) as handle:
        yield handle


@pytest.fixture
def sandbox(rig):
    yield rig
    rig.clear_faults()


def venue_for(sandbox, env: dict | None = None, **settings) -> PolymarketVenue:
    """An adapter on a fresh wallet (or the key in `env`) with short timeouts."""
    base = {"confirm_timeout_s": 3.0, "token_cache_s": 0.0, "backoff_base_s": 0.05}
    config = VenueConfig.from_env("sandbox", sandbox_url=sandbox.base_url, env=env or {},
                                  **{**base, **settings})  # fmt: skip
    return PolymarketVenue(config)


async def listed(venue: PolymarketVenue, slug: str) -> None:
    found = await venue.listing(slug, max_age_s=0)
    assert isinstance(found, Listing), found
    venue.remember(found)


def order(token: str, side: str, amount: str, cid: str, price: str) -> dict:
    return {"client_order_id": cid, "token_id": token, "side": side, "order_type": "FAK",
            "amount": amount, "price": price}  # fmt: skip


async def filled_buy(venue: PolymarketVenue, token: str, usd: str, cid: str):
    """A FAK BUY that trades: the sandbox's maker ladder moves every second, so the venue may
    kill one (nothing filled, nothing spent); only that outcome is re-sent, at most 5 times."""
    for attempt in range(5):
        execution = await venue.execute(order(token, "BUY", usd, f"{cid}.{attempt}", "0.99"))
        if execution.status is not ExecutionStatus.CANCELLED:
            return execution
    raise AssertionError(f"BUY {cid} killed 5 times in a row")


async def sell_price(venue: PolymarketVenue, token: str, shares: Decimal) -> str:
    """A worst price for a marketable SELL of `shares`: under the best bid, and high enough
    for the venue's $1 minimum."""
    book = await venue.order_book(token)
    floor = (Decimal(1) / shares).quantize(Decimal("0.01")) + Decimal("0.01")
    return str(max(floor, Decimal(repr(book.bids[0][0])) - Decimal("0.05")))


async def filled_sell(venue: PolymarketVenue, token: str, shares: Decimal, cid: str):
    """A FAK SELL of `shares` that trades: priced under the best bid just read, but the maker
    ladder moves every second and may leave no bid at that price, so the venue kills it (nothing
    sold: the shares stay). Only that answer is re-sent, re-priced, at most 5 times."""
    for attempt in range(5):
        price = await sell_price(venue, token, shares)
        execution = await venue.execute(
            order(token, "SELL", str(shares), f"{cid}.{attempt}", price)
        )
        if KILL_MESSAGES["FAK"] not in (execution.reason or ""):
            return execution
    raise AssertionError(f"SELL {cid} killed 5 times in a row")


async def resting_token(venue: PolymarketVenue, window: dict) -> str:
    """The window's token whose best ask is well above 0.05, so a BUY at 0.05 rests: late in a
    window one side can trade at a few cents, and a BUY there would match at once."""
    book = await venue.order_book(window["token_up"])
    asks = [Decimal(repr(a[0])) for a in book.asks]
    return window["token_up"] if asks and min(asks) >= Decimal("0.2") else window["token_down"]


def counter(sandbox, name: str) -> int:
    return sandbox.state()["counters"].get(name, 0)


def fills_of(execution) -> list[OrderFill]:
    return [e for e in execution.events if isinstance(e, OrderFill)]


async def settled(venue: PolymarketVenue, cid: str, timeout: float = 25.0) -> None:
    """Until every fill of `cid` is on chain (MINED or CONFIRMED): the venue profile refuses to
    sell shares of a trade still MATCHED (py-clob-client-v2#34)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = await venue.trade_statuses(cid)
        if statuses and set(statuses.values()) <= {"MINED", "CONFIRMED"}:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"fills of {cid} not on chain within {timeout}s")


# ---------------------------------------------------------------- O1: delayed matching


def test_delayed_post_is_followed_to_filled_with_the_venues_amounts(sandbox):
    window = sandbox.open_window(min_left=9)
    sandbox.inject("delay_orders", seconds=4.0, count=1)  # longer than confirm_timeout_s (3 s)

    async def scenario():
        async with venue_for(sandbox) as venue:
            await listed(venue, window["slug"])
            before = await venue.balance()
            execution = await venue.execute(order(window["token_up"], "BUY", "4", "d-1", "0.99"))
            return execution, before, await venue.balance(), await venue.trades(0)

    execution, before, after, trades = asyncio.run(scenario())
    assert execution.posted.status == "delayed" and execution.posted.trade_ids == ()
    assert execution.status is ExecutionStatus.FILLED
    assert not any(isinstance(e, OrderUnknown) for e in execution.events)
    fills = fills_of(execution)
    venue_rows = [t for t in trades if t.venue_order_id == execution.venue_order_id]
    assert {(f.price, f.shares) for f in fills} == {(t.price, t.shares) for t in venue_rows}
    cost = sum(f.price * f.shares for f in fills)
    assert before - after == cost + execution.fee


def test_delayed_post_that_finds_no_market_ends_cancelled_with_nothing_filled(sandbox):
    window = sandbox.window(
        lambda w: w["status"] == "open" and 1.5 < w["close_ts"] - time.time() < 4, timeout=25
    )
    seconds = window["close_ts"] - time.time() + 1  # matched after the window closed
    sandbox.inject("delay_orders", seconds=seconds, count=1)

    async def scenario():
        async with venue_for(sandbox) as venue:
            await listed(venue, window["slug"])
            before = await venue.balance()
            execution = await venue.execute(order(window["token_up"], "BUY", "3", "d-2", "0.99"))
            return execution, before, await venue.balance()

    execution, before, after = asyncio.run(scenario())
    assert execution.posted.status == "delayed"
    assert execution.status is ExecutionStatus.CANCELLED
    assert execution.reason == "nothing filled" and execution.filled_shares == 0
    assert after == before


# ---------------------------------------------------------------- O2: engine restart


def test_engine_restart_refuses_as_not_ready_pauses_and_resumes(sandbox):
    window = sandbox.open_window(min_left=12)

    async def scenario():
        async with venue_for(sandbox, restart_pause_s=0.5, restart_max_s=2.0) as venue:
            await listed(venue, window["slug"])
            resting = await venue.place_limit(
                window["token_up"], "BUY", Decimal("0.05"), Decimal("10"), "r-rest"
            )
            began = sandbox.inject("engine_restart", seconds=2.5, post_only_seconds=1.0,
                                   heartbeats=True)  # fmt: skip
            refused = await venue.execute(order(window["token_up"], "BUY", "3", "r-1", "0.99"))
            posted = counter(sandbox, "orders_posted")
            paused = await venue.execute(order(window["token_up"], "BUY", "3", "r-2", "0.99"))
            sent_while_paused = counter(sandbox, "orders_posted") - posted
            with pytest.raises(HeartbeatNotReady):
                await venue.heartbeat()
            alert = venue.readiness.take_alert()
            open_after = await venue.open_orders()
            await asyncio.sleep(max(0.0, began["open_at"] - time.time()) + 0.3)
            resumed = await venue.execute(order(window["token_up"], "BUY", "3", "r-3", "0.99"))
            return resting, refused, paused, sent_while_paused, alert, open_after, resumed, venue

    resting, refused, paused, sent, alert, open_after, resumed, venue = asyncio.run(scenario())
    assert resting.accepted
    assert refused.status is ExecutionStatus.REJECTED
    assert refused.reason.startswith("venue not ready")
    assert not any(isinstance(e, OrderUnknown) for e in refused.events)
    assert paused.status is ExecutionStatus.REJECTED and paused.reason.startswith("venue not ready")
    assert sent == 0  # the pause refuses locally: nothing reaches the restarting venue
    assert alert is not None and venue.readiness.take_alert() is None  # one alert per restart
    assert venue._heartbeat.failures == 0 and venue._heartbeat.not_ready == 1
    assert resting.venue_order_id not in {o.venue_order_id for o in open_after}
    assert resumed.status in (ExecutionStatus.FILLED, ExecutionStatus.PARTIALLY_FILLED)
    assert venue.readiness.restarting is False


def test_restart_answers_425_on_posts_and_cancels_not_on_reads_and_clearing_ends_it(sandbox):
    window = sandbox.open_window(min_left=6)
    client = sandbox.client()
    sandbox.inject("engine_restart", seconds=30)  # heartbeats are not refused without the flag
    with pytest.raises(RequestRejectedError) as posted:
        client.place_market_order(
            token_id=window["token_up"], side="BUY", amount="3", max_price=WORST_BUY
        )
    with pytest.raises(RequestRejectedError) as cancelled:
        client.cancel_all()
    beat = client.send_order_heartbeat(heartbeat_id="")
    reads = client.get_balance_allowance(asset_type="COLLATERAL")
    sandbox.clear_faults()
    after = market_buy(client, window["token_up"], "3")
    assert posted.value.status == 425 and cancelled.value.status == 425
    assert "restarting" in str(posted.value)
    assert beat.heartbeat_id and int(reads.balance) > 0
    assert after.ok


def test_post_only_period_refuses_marketable_orders_with_the_venues_text(sandbox):
    window = sandbox.open_window(min_left=6)
    client = sandbox.client()
    began = sandbox.inject("engine_restart", seconds=0.2, post_only_seconds=3.0)
    time.sleep(max(0.0, began["ready_at"] - time.time()) + 0.1)
    with pytest.raises(RequestRejectedError, match="post-only") as refused:
        client.place_market_order(
            token_id=window["token_up"], side="BUY", amount="3", max_price=WORST_BUY
        )
    assert refused.value.status == 400


# ---------------------------------------------------------------- O3: balance cache


def test_venue_refuses_selling_new_shares_until_the_conditional_cache_is_refreshed(sandbox):
    window = sandbox.open_window(min_left=14)
    client = sandbox.client()
    bought = market_buy(client, window["token_up"], "5")
    shares = str(bought.taking_amount.quantize(Decimal("0.01")) - Decimal("0.01"))
    wait_for(
        lambda: all(
            t.status in ("MINED", "CONFIRMED")
            for page in client.list_account_trades()
            for t in page.items
        ),
        timeout=25,
    )
    worst = str((Decimal(1) / Decimal(shares)).quantize(Decimal("0.01")) + Decimal("0.01"))
    with pytest.raises(RequestRejectedError, match="not enough balance") as refused:
        client.place_market_order(
            token_id=window["token_up"], side="SELL", shares=shares, min_price=worst
        )
    refresh_balance(client, "CONDITIONAL", window["token_up"])
    sold = client.place_market_order(
        token_id=window["token_up"], side="SELL", shares=shares, min_price=worst
    )
    assert refused.value.status == 400
    assert sold.ok


def test_adapter_refreshes_the_conditional_cache_before_selling_what_it_bought(sandbox):
    window = sandbox.open_window(min_left=14)

    async def scenario():
        async with venue_for(sandbox) as venue:
            await listed(venue, window["slug"])
            bought = await filled_buy(venue, window["token_up"], "5", "b-1")
            await settled(venue, bought.client_order_id)
            refreshes = counter(sandbox, "balance_cache_refreshes")
            sold = await filled_sell(venue, window["token_up"], bought.filled_shares, "s-1")
            return bought, sold, counter(sandbox, "balance_cache_refreshes") - refreshes, venue

    bought, sold, refreshes, venue = asyncio.run(scenario())
    assert bought.status is ExecutionStatus.FILLED
    assert sold.status is ExecutionStatus.FILLED and sold.filled_shares == bought.filled_shares
    assert refreshes >= 1 and venue.balance_refreshes == 0  # refreshed before, never refused


def test_balance_refusal_refreshes_and_retries_a_bounded_number_of_times(sandbox):
    window = sandbox.open_window(min_left=14)
    wallet = sandbox.new_wallet()

    async def scenario():
        key = {KEY_VAR: wallet.key.hex()}
        async with venue_for(sandbox, env=key) as buyer:
            await listed(buyer, window["slug"])
            bought = await filled_buy(buyer, window["token_up"], "5", "q-1")
            await settled(buyer, bought.client_order_id)
        # A new session on the same wallet has not bought anything itself: no refresh before
        # the SELL, so the venue's stale cache refuses it once; the adapter refreshes and re-posts.
        async with venue_for(sandbox, env=key) as seller:
            await listed(seller, window["slug"])
            shares = bought.filled_shares
            sold = await filled_sell(seller, window["token_up"], shares, "q-2")
            price = await sell_price(seller, window["token_up"], shares)
            too_many = await seller.execute(order(window["token_up"], "SELL", "500", "q-3", price))
            return bought, sold, too_many, seller

    bought, sold, too_many, seller = asyncio.run(scenario())
    assert bought.status is ExecutionStatus.FILLED
    assert sold.status is ExecutionStatus.FILLED and sold.filled_shares == bought.filled_shares
    assert too_many.status is ExecutionStatus.REJECTED
    assert too_many.reason.startswith(BALANCE_STALE)
    assert seller.balance_refreshes == 1 + seller.config.balance_retries


# ---------------------------------------------------------------- O4: fee reported as 0


def test_fee_follows_the_market_schedule_when_trades_report_zero_bps(sandbox):
    window = sandbox.open_window(min_left=6)

    async def scenario():
        async with venue_for(sandbox) as venue:
            await listed(venue, window["slug"])
            before = await venue.balance()
            execution = await filled_buy(venue, window["token_up"], "5", "f-1")
            records = [
                t
                async for page in venue.client.list_account_trades(asset_id=window["token_up"])
                for t in page.items
                if t.taker_order_id == execution.venue_order_id
            ]
            return execution, before, await venue.balance(), records

    execution, before, after, records = asyncio.run(scenario())
    assert execution.status is ExecutionStatus.FILLED
    fills = fills_of(execution)
    paper = sum(taker_fee(f.shares, FEE_RATE, f.price) for f in fills)  # PAPER's formula
    assert abs(execution.fee - paper) <= Decimal("0.00001") and execution.fee > 0
    cost = sum(f.price * f.shares for f in fills)
    assert before - after == cost + execution.fee  # the venue's actual charge
    # while the venue's own records (the SDK's ClobTrade) say 0 bps
    assert records and all(t.fee_rate_bps == 0 for t in records)


# ---------------------------------------------------------------- O5: credentials and clock


def test_expired_credentials_are_derived_again_and_the_order_goes_through(sandbox):
    window = sandbox.open_window(min_left=6)

    async def scenario():
        async with venue_for(sandbox) as venue:
            await listed(venue, window["slug"])
            await venue.heartbeat()
            sandbox.inject("expire_credentials")
            execution = await venue.execute(order(window["token_up"], "BUY", "3", "k-1", "0.99"))
            renewed_by_post = venue.credential_renewals
            sandbox.inject("expire_credentials")
            await venue.heartbeat()  # 401 -> derive again -> accepted
            return execution, renewed_by_post, venue.credential_renewals, venue

    execution, by_post, total, venue = asyncio.run(scenario())
    filled = (ExecutionStatus.FILLED, ExecutionStatus.PARTIALLY_FILLED)
    assert execution.status in filled, (execution.status, execution.reason, execution.posted)
    assert by_post == 1 and total == 2
    assert venue._heartbeat.failures == 0


def test_skewed_clock_401_is_healed_by_signing_on_the_venues_clock(sandbox):
    window = sandbox.open_window(min_left=6)

    async def scenario():
        async with venue_for(sandbox) as venue:
            await listed(venue, window["slug"])
            stale = counter(sandbox, "l2_stale_timestamps")
            sandbox.inject("clock_skew", seconds=120)  # our stamps look 2 min old to the venue
            execution = await venue.execute(order(window["token_up"], "BUY", "3", "c-1", "0.99"))
            return execution, counter(sandbox, "l2_stale_timestamps") - stale, venue

    execution, refused, venue = asyncio.run(scenario())
    assert refused >= 1  # the venue did answer 401 to a stale POLY_TIMESTAMP
    assert 119 <= venue.skew_s <= 121 and venue.skewed  # measured on the 401, alert-worthy
    assert venue._sign_offset_s == venue.skew_s  # signed on the venue's clock since
    assert execution.status in (ExecutionStatus.FILLED, ExecutionStatus.PARTIALLY_FILLED)


# ---------------------------------------------------------------- O6: prefixed order statuses


def test_prefixed_order_status_of_a_resting_order_reads_as_open(sandbox):
    window = sandbox.open_window(min_left=5)

    async def scenario():
        async with venue_for(sandbox) as venue:
            await listed(venue, window["slug"])
            token = await resting_token(venue, window)
            posted = await venue.place_limit(token, "BUY", Decimal("0.05"), Decimal("10"), "p-1")
            raw = await venue.client.get_order(order_id=posted.venue_order_id)
            plain = await venue._order_status(str(posted.venue_order_id))
            await venue.cancel(str(posted.venue_order_id))
            gone = await venue._order_status(str(posted.venue_order_id))
            return raw.status, plain, gone

    raw, plain, gone = asyncio.run(scenario())
    assert raw == "ORDER_STATUS_LIVE" and plain == "LIVE" and gone == "GONE"
