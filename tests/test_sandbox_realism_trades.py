"""A trade's way to the chain and the Data API's lag, through the real SDK against a sandbox in the
`venue` realism profile with its default latencies: MATCHED at once, MINED after 1-5 s, CONFIRMED
after 2-15 s, on REST and on the user channel; a confirmation held for 35 s (the shares cannot be
sold until then); a trade that goes RETRYING then FAILED and is undone; positions that appear in
the Data API 10 s after the trade; and the same latencies for the same seed."""

from __future__ import annotations

import asyncio
import time

import pytest
from polymarket.errors import RequestRejectedError, TransactionFailedError

from sandbox_fixtures import (
    KILL_MESSAGES,
    WORST_BUY,
    market_buy,
    positions,
    refresh_balance,
    running_sandbox,
    usdc,
    venue_config,
    wait_for,
)

LAG_S = 10.0


@pytest.fixture(scope="module")
def venue():
    # The trade lifecycle is checked on immediate matches: the share of "delayed" answers is
    # drilled in test_sandbox_realism_delayed.py and test_order_path.py.
    with running_sandbox(venue_config(seed=23, window_seconds=(30,), delayed_share=0.0)) as handle:
        assert handle.state()["realism"] == "venue"
        yield handle


def _user_channel(venue, wallet, token: str, until: set[str], timeout: float):
    """Post a FAK BUY with the async SDK for `wallet` and record every trade event of that order
    (trade id, status, seconds since just before the post) until each of its trades reaches a
    status in `until`; then the SDK's own settlement wait (its hashes, or the error it raised)."""
    from polymarket.streams._specs import UserSpec

    async def run():
        client = await venue.async_client(wallet)
        user = await client.subscribe(UserSpec())
        await asyncio.sleep(0.3)
        for _ in range(10):  # the maker's ladder may move under the SDK's price: re-send kills
            sent = time.time()
            placed = await client.place_market_order(
                token_id=token, side="BUY", amount="3", order_type="FAK", max_price=WORST_BUY
            )
            if placed.ok or KILL_MESSAGES["FAK"] not in placed.message:
                break
        assert placed.ok, placed
        seen: list[tuple[str, str, float]] = []

        async def collect():
            async for event in user:
                if event.type == "trade" and event.payload.id in placed.trade_ids:
                    seen.append((event.payload.id, event.payload.status, time.time() - sent))
                    last = {tid: status for tid, status, _ in seen}
                    if len(last) == len(placed.trade_ids) and set(last.values()) <= until:
                        return

        await asyncio.wait_for(collect(), timeout)
        try:
            settled = await client.wait_for_order_fill_settlement(placed, timeout_s=5)
        except TransactionFailedError as exc:
            settled = exc
        await user.close()
        await client.close()
        return placed, seen, settled

    return asyncio.run(run())


def _steps(seen: list, trade_id: str) -> list[tuple[str, float]]:
    return [(status, at) for tid, status, at in seen if tid == trade_id]


def test_trade_is_matched_at_once_then_mined_and_confirmed_within_the_venue_latencies(venue):
    wallet = venue.new_wallet()
    window = venue.open_window(min_left=4)
    placed, seen, settled = _user_channel(
        venue, wallet, window["token_up"], {"CONFIRMED"}, timeout=20
    )
    assert placed.status == "matched"
    assert settled and not isinstance(settled, Exception)  # the SDK's settlement wait agrees
    rows = {t["id"]: t for t in venue.state()["trades"]}
    for trade_id in placed.trade_ids:
        steps = _steps(seen, trade_id)
        assert [status for status, _ in steps] == ["MATCHED", "MINED", "CONFIRMED"]
        assert steps[1][1] >= 1 and steps[2][1] >= 2  # never earlier than the venue's latencies
        assert 1 <= rows[trade_id]["mined_after_s"] <= 5
        assert 2 <= rows[trade_id]["confirmed_after_s"] <= 15
    rest = {
        t.id: t.status for page in venue.client(wallet).list_account_trades() for t in page.items
    }
    assert {rest[tid] for tid in placed.trade_ids} == {"CONFIRMED"}  # REST: TRADE_STATUS_...


@pytest.mark.slow
def test_held_confirmation_arrives_after_35_s_and_the_shares_cannot_be_sold_before(venue):
    client = venue.client()
    window = venue.window(lambda w: w["status"] == "upcoming" and w["close_ts"] - time.time() > 50)
    venue.inject("hold_confirmations", seconds=35, count=20)
    try:
        sent = time.time()
        bought = market_buy(client, window["token_up"], "3")
    finally:
        venue.clear_faults()
    sell = client.create_limit_order(
        token_id=window["token_up"], side="SELL", price="0.99", size=str(bought.taking_amount)
    )
    with pytest.raises(RequestRejectedError, match="not enough balance / allowance"):
        client.post_order(sell)  # matched, not on chain: the shares are not there yet

    def status() -> set[str]:
        return {t.status for page in client.list_account_trades() for t in page.items}

    time.sleep(15)
    assert status() == {"MATCHED"}  # held: no settlement transaction yet
    wait_for(lambda: status() == {"CONFIRMED"}, timeout=40)
    assert time.time() - sent >= 35
    refresh_balance(client, "CONDITIONAL", window["token_up"])  # the venue's cache (O3)
    resting = client.post_order(
        client.create_limit_order(
            token_id=window["token_up"], side="SELL", price="0.99", size=str(bought.taking_amount)
        )
    )
    assert resting.ok and resting.status == "live"  # settled: now the shares can be sold
    client.cancel_order(order_id=resting.order_id)


def test_failed_trade_goes_retrying_then_failed_and_is_undone(venue):
    wallet = venue.new_wallet()
    client = venue.client(wallet)
    window = venue.open_window(min_left=4)
    cash = usdc(client)
    venue.inject("fail_trades", count=20)  # every fill of the order
    try:
        placed, seen, settled = _user_channel(
            venue, wallet, window["token_up"], {"FAILED"}, timeout=20
        )
    finally:
        venue.clear_faults()
    for trade_id in placed.trade_ids:
        assert [s for s, _ in _steps(seen, trade_id)] == ["MATCHED", "RETRYING", "FAILED"]
    assert isinstance(settled, TransactionFailedError)  # the SDK: every fill failed
    assert usdc(client) == cash  # the fills are undone: notional and fee back
    assert venue.state()["positions"].get(wallet.address, {}) == {}
    wait_for(lambda: positions(client) == [], timeout=LAG_S + 3)
    failed = [n for n in client.get_notifications() if n.type == 8]  # ORDER_FILL_FAILED
    assert {n.payload.trade_id for n in failed} == set(placed.trade_ids)
    assert {n.payload.order_id for n in failed} == {placed.order_id}


def test_data_api_positions_lag_the_trade_by_the_configured_delay(venue):
    client = venue.client()
    window = venue.open_window(min_left=4)
    cash = usdc(client)
    sent = time.time()
    bought = market_buy(client, window["token_up"], "3")
    returned = time.time()
    assert usdc(client) < cash  # the CLOB's balance moves at once
    assert positions(client) == []  # the Data API has not seen the trade yet
    first = wait_for(lambda: positions(client), timeout=LAG_S + 5, every=0.2)
    seen_at = time.time()
    assert first[0].current_size == bought.taking_amount
    assert seen_at - sent >= LAG_S
    assert seen_at - returned <= LAG_S + 1.5


def test_same_seed_gives_the_same_latencies_and_another_seed_others():
    def first_fill_latencies(seed: int) -> tuple[float, float]:
        with running_sandbox(venue_config(seed=seed, delayed_share=0.0)) as venue:
            client = venue.client()
            market_buy(client, venue.open_window(min_left=3)["token_up"], "3")
            first = venue.state()["trades"][0]
            return first["mined_after_s"], first["confirmed_after_s"]

    again = first_fill_latencies(41)
    assert again == first_fill_latencies(41)
    assert again != first_fill_latencies(42)
    assert 1 <= again[0] <= 5 and 2 <= again[1] <= 15
