"""`delayed` post answers through the real SDK (a sandbox in the `venue` realism profile, the
`delay_orders` fault): the post says only "delayed" — no amounts, no trade ids — the order reads
DELAYED, and a moment later it matches against the book of that moment, or ends UNMATCHED."""

from __future__ import annotations

import time

import pytest

from sandbox_fixtures import WORST_BUY, running_sandbox, usdc, venue_config, wait_for


@pytest.fixture(scope="module")
def venue():
    with running_sandbox(venue_config(seed=24, data_lag_seconds=0.0)) as handle:
        yield handle


def _trades_of(client, order_id: str) -> list:
    return [
        t
        for page in client.list_account_trades()
        for t in page.items
        if t.taker_order_id == order_id
    ]


def test_delayed_order_matches_a_moment_later(venue):
    client = venue.client()
    window = venue.open_window(min_left=5)
    cash = usdc(client)
    venue.inject("delay_orders", seconds=1.5, count=1)
    try:
        placed = client.place_market_order(
            token_id=window["token_up"], side="BUY", amount="3", max_price=WORST_BUY
        )
    finally:
        venue.clear_faults()
    assert placed.ok and placed.status == "delayed"
    assert placed.making_amount == 0 and placed.taking_amount == 0 and placed.trade_ids == ()
    # the `venue` profile spells the V2 order lookup's statuses with their prefix (O6)
    assert client.get_order(order_id=placed.order_id).status == "ORDER_STATUS_DELAYED"
    assert usdc(client) == cash and _trades_of(client, placed.order_id) == []
    trades = wait_for(lambda: _trades_of(client, placed.order_id), timeout=5)
    assert sum(t.size * t.price for t in trades) > 0
    assert usdc(client) < cash


def test_delayed_order_that_finds_no_market_ends_unmatched(venue):
    client = venue.client()
    window = venue.window(
        lambda w: w["status"] == "open" and 1.5 < w["close_ts"] - time.time() < 4, timeout=15
    )
    cash = usdc(client)
    seconds = window["close_ts"] - time.time() + 1  # released after the window has closed
    venue.inject("delay_orders", seconds=seconds, count=1)
    try:
        placed = client.place_market_order(
            token_id=window["token_up"], side="BUY", amount="3", max_price=WORST_BUY
        )
    finally:
        venue.clear_faults()
    assert placed.ok and placed.status == "delayed"
    order_id = placed.order_id
    row = wait_for(
        lambda: next(
            (
                o
                for o in venue.state()["orders"]
                if o["id"] == order_id and o["status"] != "DELAYED"
            ),
            None,
        ),
        timeout=seconds + 3,
    )
    assert row["status"] == "UNMATCHED" and row["trades"] == 0
    assert usdc(client) == cash and _trades_of(client, order_id) == []
