"""The venue's auto-redeem, through the real SDK against a sandbox in the `venue` realism profile:
an account that granted the environment's `auto_redeem_operator` through the SDK's trading
approvals is redeemed by the venue `auto_redeem_delay` seconds after resolution and gets an
AUTO_REDEEMED notification; an account without the approval keeps its redeemable positions.

The delay is 2 s and the chain is shortened (mined within 1 s); the Data API lag is off."""

from __future__ import annotations

import time

import pytest
from polymarket._internal.environment import PRODUCTION_CONFIG

from sandbox_fixtures import market_buy, positions, running_sandbox, usdc, venue_config, wait_for

FAST_CHAIN = {"tx_mined_seconds": (0.2, 0.6), "tx_confirmed_seconds": (0.6, 1.2)}
DELAY_S = 2.0


@pytest.fixture(scope="module")
def venue():
    # Immediate matches: a "delayed" answer carries no amounts (drilled in test_order_path.py).
    config = venue_config(
        seed=22, data_lag_seconds=0.0, auto_redeem_delay=DELAY_S, delayed_share=0.0, **FAST_CHAIN
    )
    with running_sandbox(config) as handle:
        yield handle


def _operator_missing(client) -> bool:
    state = client.get_trading_approvals_state()
    return any(
        a.operator.lower() == PRODUCTION_CONFIG.auto_redeem_operator.lower()
        for a in state.missing.erc1155
    )


def test_approved_account_is_auto_redeemed_and_notified_the_other_is_not(venue):
    approver, other = venue.client(poll_ms=100), venue.client(poll_ms=100)
    assert _operator_missing(approver)  # opt-in: no account starts with it
    approver.setup_trading_approvals()  # the SDK grants what is missing, the operator included
    assert not _operator_missing(approver)
    assert approver.get_trading_approvals_state().is_fully_approved

    window = venue.open_window(min_left=4)
    bought = {}
    for client in (approver, other):
        bought[client] = {
            token: market_buy(client, window[token], "3").taking_amount
            for token in ("token_up", "token_down")
        }
    cash = {client: usdc(client) for client in (approver, other)}
    done = venue.resolved(window)
    won = "token_up" if done["winner"] == "Up" else "token_down"
    resolved_at = time.time()

    paid = bought[approver][won]
    wait_for(lambda: usdc(approver) == cash[approver] + paid, timeout=DELAY_S + 8)
    assert time.time() - resolved_at >= DELAY_S - 0.5  # not before the operator's delay
    assert positions(approver) == []  # both outcomes burnt in the one redemption
    (note,) = approver.get_notifications()
    assert note.type == 9  # AUTO_REDEEMED
    assert note.payload.amount == paid
    assert note.payload.condition_id == window["condition_id"]
    assert note.payload.market_slug == window["slug"]
    operator_tx = next(t for t in venue.state()["transactions"] if t["via"] == "operator")
    assert note.payload.transaction_hash == operator_tx["hash"]
    approver.drop_notifications(ids=[note.id])
    assert approver.get_notifications() == ()

    assert usdc(other) == cash[other]  # no approval: nothing happens for it
    assert {r.asset_id for r in positions(other)} == {window["token_up"], window["token_down"]}
    assert all(r.redeemable for r in positions(other))
    assert other.get_notifications() == ()


def test_operator_leaves_an_account_holding_only_the_losing_side(venue):
    client = venue.client(poll_ms=100)
    client.setup_trading_approvals()
    window = venue.open_window(min_left=4)
    shares = market_buy(client, window["token_up"], "3").taking_amount
    cash = usdc(client)
    done = venue.resolved(window)
    time.sleep(DELAY_S + 2)
    if done["winner"] == "Up":  # a winner: redeemed by the operator
        wait_for(lambda: usdc(client) == cash + shares, timeout=5)
        assert positions(client) == []
    else:  # nothing to pay: the operator spends no gas and the row stays redeemable
        assert usdc(client) == cash
        (row,) = positions(client, status="REDEEMABLE_LOST")
        assert row.current_size == shares and row.redeemable
        assert client.get_notifications() == ()
