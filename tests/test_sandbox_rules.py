"""Determinism of the synthetic market, venue-style rejections of malformed requests, and the
observable effect of HTTP-side faults."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from sandbox import pricepath
from sandbox.auth import hmac_signature
from sandbox.quotes import TICK_COARSE, maker_book
from sandbox_fixtures import *  # noqa: F403

T0 = 1_780_000_000


def test_same_seed_same_path_and_books_different_seed_differs():
    assert pricepath.path_sample(3, "BTC", T0, 120) == pricepath.path_sample(3, "BTC", T0, 120)
    assert pricepath.path_sample(3, "BTC", T0, 120) != pricepath.path_sample(4, "BTC", T0, 120)
    books = [maker_book(3, "btc-updown-5m-1", s, 0.5, TICK_COARSE) for s in range(50)]
    assert books == [maker_book(3, "btc-updown-5m-1", s, 0.5, TICK_COARSE) for s in range(50)]
    assert books != [maker_book(4, "btc-updown-5m-1", s, 0.5, TICK_COARSE) for s in range(50)]


def _pinned_run(wall_start: int, path_start: int | None) -> list[tuple]:
    """What a BTC 20 s sandbox built at `wall_start` quotes over the next 60 s: per second, the
    strike, fair and Up book of the window in progress, relative to the start."""
    from decimal import Decimal

    from sandbox.clockwork import advance
    from sandbox.config import SandboxConfig
    from sandbox.exchange import Exchange

    now = [float(wall_start)]
    config = SandboxConfig(
        port=0,
        seed=5,
        assets=("BTC",),
        window_seconds=(20,),
        path_start=path_start,
        fee_rate=Decimal("0.07"),
    )
    ex = Exchange(config, clock=lambda: now[0])
    seen = []
    for step in range(60):
        now[0] = wall_start + step + 0.7
        advance(ex, now[0])
        state = next(
            s for s in ex.markets.states.values() if s.window.open_ts <= now[0] < s.window.close_ts
        )
        seen.append(
            (
                state.window.open_ts - wall_start,
                state.strike,
                state.fair,
                ex.markets.ladders.get(state.window.token_up),
            )
        )
    return seen


def test_a_pinned_price_path_is_the_same_whatever_the_hour_it_runs():
    """`path_start` makes a run independent of the time of day (the VWAP ladder's signals
    depended on it): two sandboxes built hours apart, on the same window phase, quote the same
    strikes, fair values and books second by second; unpinned they do not."""
    first = _pinned_run(T0, path_start=1_767_294_000)
    assert first == _pinned_run(T0 + 7 * 3600 + 40, path_start=1_767_294_000)
    assert first != _pinned_run(T0 + 7 * 3600 + 40, path_start=None)
    assert first != _pinned_run(T0, path_start=1_767_294_000 + 3600)


def _signed_post(sandbox, client, path: str, body: str) -> httpx.Response:
    creds = client.credentials
    ts = str(int(time.time()))
    headers = {
        "POLY_ADDRESS": client.signer,
        "POLY_API_KEY": creds.key,
        "POLY_PASSPHRASE": creds.passphrase,
        "POLY_TIMESTAMP": ts,
        "POLY_SIGNATURE": hmac_signature(creds.secret, ts, "POST", path, body),
        "Content-Type": "application/json",
    }
    return sandbox.http.post(f"/clob{path}", content=body, headers=headers)


def _order_body(client, window, **changes) -> dict:
    signed = client.create_limit_order(
        token_id=window["token_up"], price="0.02", size="10", side="BUY"
    )
    order = {
        "salt": signed.salt,
        "maker": signed.maker,
        "signer": signed.signer,
        "tokenId": signed.token_id,
        "makerAmount": str(signed.maker_amount),
        "takerAmount": str(signed.taker_amount),
        "side": signed.side,
        "expiration": "0",
        "signatureType": signed.signature_type,
        "timestamp": str(signed.timestamp),
        "metadata": signed.metadata,
        "builder": signed.builder,
        "signature": signed.signature,
    }
    order.update(changes)
    return {"order": order, "owner": client.credentials.key, "orderType": "GTC"}


@pytest.mark.parametrize("case", ["bad_json", "unknown_token", "negative", "off_tick", "bad_sig"])
def test_malformed_orders_get_venue_errors_and_change_nothing(sandbox, case):
    client = sandbox.client()
    window = sandbox.open_window()
    before = sandbox.state()
    body = _order_body(client, window)
    if case == "bad_json":
        text = "{not json"
    else:
        if case == "unknown_token":
            body["order"]["tokenId"] = "123"
        if case == "negative":
            body["order"]["makerAmount"] = "-200000"
        if case == "off_tick":  # 10 shares at 0.025
            body["order"]["makerAmount"] = "250000"
        if case == "bad_sig":
            body["order"]["salt"] = body["order"]["salt"] + 1
        text = json.dumps(body, separators=(",", ":"))
    response = _signed_post(sandbox, client, "/order", text)
    assert response.status_code == 400 and response.json()["error"]
    if case == "off_tick":
        assert "breaks minimum tick size rule" in response.json()["error"]
    after = sandbox.state()
    assert after["open_orders"] == before["open_orders"]
    assert after["balances"].get(client.signer) in (None, "1000")


def test_rejects_and_http_errors_and_balance_offset_and_skew(sandbox):
    from polymarket.errors import RateLimitError, RequestRejectedError

    client = sandbox.client()
    window = sandbox.open_window()
    sandbox.inject("reject_orders", count=1, message="sandbox says no")
    rejected = client.place_limit_order(
        token_id=window["token_up"], price="0.02", size="10", side="BUY"
    )
    assert not rejected.ok and rejected.message == "sandbox says no"
    sandbox.inject("http_error", status=503, count=1, path="/clob/book")
    with pytest.raises(RequestRejectedError):
        client.get_order_book(token_id=window["token_up"])
    sandbox.inject("http_error", status=429, count=1, path="/clob/midpoint")
    with pytest.raises(RateLimitError):
        client.get_midpoint(token_id=window["token_up"])
    sandbox.inject("balance_offset", usd="-10")
    assert client.get_balance_allowance(asset_type="COLLATERAL").balance == 990 * 10**6
    sandbox.inject("clock_skew", seconds=120)
    assert sandbox.http.get("/clob/time").json() - time.time() > 100
    sandbox.clear_faults()
    assert sandbox.state()["faults"] == []
