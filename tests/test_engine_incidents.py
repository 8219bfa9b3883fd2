"""The February 2026 incident, each part a named test that must stay impossible."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from engine_kit import (
    CLOSE,
    OPEN,
    book,
    listed,
    make_engine,
    of_type,
    run,
    signal,
    two_sided,
    window,
)

from live.kernel.domain import DenyCode, Mode, OrderPurpose, OrderSide
from live.kernel.events import OrderAck, OrderFill
from live.kernel.limits import HARD_MAX_POSITION_USD
from live.kernel.records import DecisionRecord

W = window("ETH")


def decisions(engine) -> list[DecisionRecord]:
    return of_type(engine.records, DecisionRecord)


def test_183_eth_shares_in_one_position_is_denied_by_the_hard_cap() -> None:
    engine = make_engine()
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.25, 0.27, size=1000)])
    run(engine, [signal(OPEN + 2000, W, usd="49", signal_id="big")])
    (decision,) = decisions(engine)
    assert decision.code == DenyCode.POSITION_CAP
    assert not list(engine.orders)


def test_repeated_entries_cannot_grow_a_position_past_the_cap() -> None:
    engine = make_engine()
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.25, 0.27, size=1000)])
    run(engine, [signal(OPEN + 2000 + i, W, usd="3", signal_id=f"s{i}") for i in range(4)])
    (pos,) = list(engine.positions)
    assert pos.cost <= HARD_MAX_POSITION_USD
    assert [d.code for d in decisions(engine)][1] == DenyCode.POSITION_CAP


def test_xrp_at_six_times_size_is_denied_not_resized() -> None:
    xrp = window("XRP")
    engine = make_engine()
    run(engine, [listed(xrp), *two_sided(OPEN + 1000, xrp, 0.25, 0.27, size=1000)])
    run(engine, [signal(OPEN + 2000, xrp, usd="6", signal_id="x6")])
    assert decisions(engine)[0].code == DenyCode.POSITION_CAP
    run(engine, [signal(OPEN + 3000, xrp, usd="1", signal_id="x1")])
    (order,) = list(engine.orders)
    assert order.requested_usd == Decimal("1")  # the same size as every other instrument


def test_entries_on_unopened_future_windows_are_denied() -> None:
    future = window("ETH", open_ts=OPEN + 3_600_000)
    engine = make_engine()
    run(engine, [listed(future, OPEN), *two_sided(OPEN + 1000, future, 0.5, 0.52)])
    run(engine, [signal(OPEN + 2000, future, signal_id="early")])
    assert decisions(engine)[0].code == DenyCode.WINDOW_NOT_OPEN
    assert not list(engine.orders)


def test_canary_does_not_trade_a_window_before_it_opens() -> None:
    engine = make_engine("canary")
    future = window("ETH", open_ts=OPEN + 3_600_000)
    run(engine, [listed(W), listed(future, OPEN), *two_sided(OPEN + 1000, W, 0.5, 0.52)])
    run(
        engine,
        [*two_sided(OPEN + 1000, future, 0.5, 0.52), *two_sided(CLOSE - 59_000, W, 0.5, 0.52)],
    )
    assert {o.window_slug for o in engine.orders} == {W.slug}


def test_null_order_ids_are_impossible() -> None:
    engine = make_engine()
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.5, 0.52)])
    run(engine, [signal(OPEN + 2000, W, signal_id="a")])
    (order,) = list(engine.orders)
    assert order.client_order_id
    with pytest.raises(ValueError, match="client_order_id"):
        replace(order, client_order_id="")


def test_live_order_has_its_id_in_the_command_before_it_is_sent() -> None:
    engine = make_engine(mode=Mode.LIVE, promoted=lambda name: True, balance=None)
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.5, 0.52)])
    from live.kernel.events import BalanceReport

    engine.process(BalanceReport(OPEN + 1500, Decimal("68")))
    (command,) = engine.process(signal(OPEN + 2000, W, signal_id="a"))
    assert command.order.client_order_id == command.payload["client_order_id"]
    assert command.order.venue_order_id is None
    cid = command.order.client_order_id
    engine.process(OrderAck(OPEN + 2100, cid, "0xvenue"))
    engine.process(
        OrderFill(OPEN + 2200, cid, "t1", Decimal("0.52"), Decimal("1.923076"), Decimal("0"))
    )
    order = engine.orders.get(cid)
    assert order.venue_order_id == "0xvenue" and order.state == "FILLED"


def test_ioc_worst_price_comes_from_the_signal_sides_ask() -> None:
    engine = make_engine()
    run(
        engine,
        [
            listed(W),
            book(OPEN + 1000, W.token_up, [(0.7, 100)], [(0.72, 100)]),
            book(OPEN + 1000, W.token_down, [(0.27, 100)], [(0.3, 100)]),
        ],
    )
    run(engine, [signal(OPEN + 2000, W, side="DOWN", signal_id="d")])
    (order,) = list(engine.orders)
    assert order.token_id == W.token_down and order.side is OrderSide.BUY
    assert order.worst_price == Decimal("0.32")  # Down's ask 0.30 + 2 ticks, not Up's fields
    assert order.purpose is OrderPurpose.ENTRY


def test_stop_losses_fire() -> None:
    engine = make_engine()
    run(engine, [listed(W), *two_sided(OPEN + 1000, W, 0.48, 0.5)])
    run(engine, [signal(OPEN + 2000, W, usd="4", stop_loss="0.1", signal_id="s")])
    run(engine, [book(OPEN + 3000, W.token_up, [(0.45, 100)], [(0.47, 100)])])
    (pos,) = list(engine.positions)
    assert pos.exit_reason == "STOP_LOSS" and pos.state == "CLOSED"
    assert pos.pnl_net is not None and pos.pnl_net < 0
