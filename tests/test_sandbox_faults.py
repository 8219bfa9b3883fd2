"""The sandbox's fault options the runner drills need, through the real SDK: a dropped
confirmation that REST hides too (until cleared), an HTTP error after the work was done, faults
cleared by kind, and a partial fill scoped to one asset."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sandbox_fixtures import *  # noqa: F403
from sandbox_fixtures import WORST_BUY


def _trades_of(client, order_id: str) -> list:
    return [
        t
        for page in client.list_account_trades()
        for t in page.items
        if t.taker_order_id == order_id
    ]


def _order_row(sandbox, order_id: str) -> dict | None:
    return next((o for o in sandbox.state()["orders"] if o["id"] == order_id), None)


def test_hidden_confirmation_fills_but_rest_shows_nothing_until_cleared(sandbox):
    client = sandbox.client()
    window = sandbox.open_window()
    sandbox.inject("drop_confirmations", asset="BTC", count=1, hide_trades=True)
    try:
        result = client.place_market_order(
            token_id=window["token_up"],
            side="BUY",
            amount="2",
            order_type="FAK",
            max_price=WORST_BUY,
        )
        assert result.ok and result.order_id and result.trade_ids  # the post's answer says so
        row = _order_row(sandbox, result.order_id)
        assert row["hidden"] and Decimal(row["size_matched"]) > 0
        assert _trades_of(client, result.order_id) == []
        assert sandbox.state()["faults"] == []  # count used up; the order stays hidden
    finally:
        sandbox.http.delete("/_sandbox/faults", params={"kind": "drop_confirmations"})
    assert not _order_row(sandbox, result.order_id)["hidden"]
    assert {t.id for t in _trades_of(client, result.order_id)} == set(result.trade_ids)


def test_processed_http_error_does_the_work_and_loses_only_the_answer(sandbox):
    client = sandbox.client()
    window = sandbox.open_window()
    before = len(sandbox.state()["orders"])
    sandbox.inject("http_error", status=503, path="/clob/order", count=1, processed=True)
    try:
        with pytest.raises(Exception, match="503"):
            client.place_market_order(
                token_id=window["token_down"],
                side="BUY",
                amount="2",
                order_type="FAK",
                max_price=WORST_BUY,
            )
    finally:
        sandbox.clear_faults()
    orders = sandbox.state()["orders"]
    assert len(orders) == before + 1 and orders[-1]["trades"] >= 1, orders[-1:]
    assert _trades_of(client, orders[-1]["id"])


def test_faults_clear_by_kind_and_partial_fill_is_scoped_to_its_asset(sandbox):
    client = sandbox.client()
    window = sandbox.open_window()
    sandbox.inject("partial_fill", asset="ETH", ratio="0.5")
    sandbox.inject("reject_orders", asset="SOL", count=1)
    try:
        fak = client.place_market_order(
            token_id=window["token_up"],
            side="BUY",
            amount="4",
            order_type="FAK",
            max_price=WORST_BUY,
        )
        assert fak.ok and fak.making_amount > Decimal("2.01")  # BTC: not halved
        response = sandbox.http.delete("/_sandbox/faults", params={"kind": "partial_fill"})
        assert [f["kind"] for f in response.json()["faults"]] == ["reject_orders"]
        bad = sandbox.http.delete("/_sandbox/faults", params={"kind": "nope"})
        assert bad.status_code == 400
    finally:
        sandbox.clear_faults()
